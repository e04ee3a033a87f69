package cli

import (
	"context"
	"fmt"
	"net"
)

// loopbackOnly is the network of the command tests: a check that would
// reach the configuration's API server or COS (10.0.0.5, a COS host name)
// fails at once instead of sending anything off this machine.
type loopbackOnly struct{}

func (loopbackOnly) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("test network: %s is not on loopback", address)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, address)
}
