package network

import (
	"net"
	"testing"
)

func TestIsPrivate(t *testing.T) {
	cases := map[string]bool{
		"10.0.0.5":        true,
		"10.255.255.255":  true,
		"172.16.0.1":      true,
		"172.31.255.254":  true,
		"172.32.0.1":      false,
		"172.15.255.255":  false,
		"192.168.1.1":     true,
		"192.169.0.1":     false,
		"100.64.0.1":      true,
		"100.127.255.255": true,
		"100.128.0.1":     false,
		"100.63.255.255":  false,
		"8.8.8.8":         false,
		"127.0.0.1":       false,
		"169.254.1.1":     false,
		"fd00::1":         true,
		"fdff:ffff::1":    true,
		"fc00::1":         false, // fc00::/8 is not locally assigned
		"2001:db8::1":     false,
		"::1":             false,
		"::ffff:10.0.0.5": true, // v4-mapped form of a private address
	}
	for s, want := range cases {
		if got := IsPrivate(net.ParseIP(s)); got != want {
			t.Errorf("IsPrivate(%s) = %v, want %v", s, got, want)
		}
	}
}
