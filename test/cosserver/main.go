// Command cosserver is an artifact server with the semantics of Tencent
// Cloud COS that matter to add2tkectl, for tests, the e2e environment and
// demos. It serves a directory like a bucket: presigned URLs are checked
// (expired and bad signatures answered as COS does: 403 with an XML body),
// Range, If-Range, ETag and HEAD work, faults are injected on request and
// the bytes sent per path are counted.
//
//	cosserver serve --dir DIR --listen 127.0.0.1:8080 --secret-id ID --secret-key KEY [--faults] [--anonymous]
//	cosserver presign --secret-id ID --secret-key KEY --base http://127.0.0.1:8080 --expires 1h PATH
//
// With --faults, the same listener answers:
//
//	POST   /_faults   a Fault or a list of them (JSON, see Fault), e.g.
//	                  {"path":"/kubelet","status":503,"times":2}
//	                  {"path":"/kubelet","resetAfter":1048576,"times":1}
//	                  {"path":"/big","resetEvery":104857600}
//	                  {"truncateAfter":100,"times":1} {"rate":65536} {"corrupt":true,"times":1}
//	                  {"path":"/kubelet","stallAfter":1048576,"stall":"10s","times":1}
//	DELETE /_faults   clear every fault
//	GET    /_stats    {"/path":{"requests":N,"bytes":N,"status":{"200":N}}}: body bytes sent
//	DELETE /_stats    reset the counters
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	cos "github.com/tencentyun/cos-go-sdk-v5"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "cosserver:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: cosserver serve|presign [flags]; see cosserver serve --help")
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stdout, stderr)
	case "presign":
		return presign(args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown command %q: use serve or presign", args[0])
}

func serve(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("serve", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dir := fl.String("dir", ".", "directory served as the bucket (object key = path under it)")
	listen := fl.String("listen", "127.0.0.1:0", "address to listen on; the URL is printed on stdout")
	id := fl.String("secret-id", "", "SecretId that presigned URLs must be signed with (empty: no signature checks)")
	key := fl.String("secret-key", "", "SecretKey of --secret-id")
	faults := fl.Bool("faults", false, "enable fault injection and counters at /_faults and /_stats")
	anon := fl.Bool("anonymous", false, "also serve unsigned requests, like a public-read bucket (signed ones are still checked)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 0 {
		return fmt.Errorf("serve takes no arguments")
	}
	st, err := os.Stat(*dir)
	if err != nil || !st.IsDir() {
		return fmt.Errorf("--dir %q is not a directory", *dir)
	}
	s := newServer(*dir, *id, *key)
	s.admin, s.anonymous = *faults, *anon
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "cosserver listening on http://%s\n", ln.Addr())
	if f, ok := stdout.(*os.File); ok {
		_ = f.Sync()
	}
	srv := &http.Server{Handler: s, ConnContext: connContext, ReadHeaderTimeout: 30 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

func presign(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("presign", flag.ContinueOnError)
	fl.SetOutput(stderr)
	id := fl.String("secret-id", "", "SecretId")
	key := fl.String("secret-key", "", "SecretKey")
	base := fl.String("base", "", "bucket URL, e.g. http://127.0.0.1:8080 (its path is ignored, as the SDK does)")
	expires := fl.Duration("expires", time.Hour, "validity from --start")
	start := fl.Duration("start", 0, "start of validity relative to now (e.g. -2h with --expires 1h gives an expired link)")
	method := fl.String("method", http.MethodGet, "HTTP method the URL is for")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() != 1 || *id == "" || *key == "" || *base == "" {
		return fmt.Errorf("usage: cosserver presign --secret-id ID --secret-key KEY --base URL [--expires 1h] [--start 0] PATH")
	}
	u, err := presignURL(*base, *id, *key, *method, fl.Arg(0), time.Now().Add(*start), *expires)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, u)
	return nil
}

// presignURL signs a URL with the official SDK, exactly as the console's
// backend would.
func presignURL(base, id, key, method, object string, from time.Time, expires time.Duration) (string, error) {
	b, err := url.Parse(base)
	if err != nil || b.Host == "" {
		return "", fmt.Errorf("--base %q is not a URL", base)
	}
	c := cos.NewClient(&cos.BaseURL{BucketURL: b}, &http.Client{})
	opt := &cos.PresignedURLOptions{AuthTime: &cos.AuthTime{
		SignStartTime: from, SignEndTime: from.Add(expires),
		KeyStartTime: from, KeyEndTime: from.Add(expires),
	}}
	u, err := c.Object.GetPresignedURL(context.Background(), method, strings.TrimPrefix(object, "/"), id, key, expires, opt)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}
