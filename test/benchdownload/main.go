// Command benchdownload runs add2tkectl's downloader (pkg/artifact, with the
// settings install uses) once, for scripts/bench-download.sh: it fetches and
// verifies the manifest, downloads every artifact for linux/--arch into
// --cache and prints one JSON line with the wall time, the bytes received
// and the cache hits.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/add2tkectl/add2tkectl/pkg/artifact"
)

func main() {
	manifestURL := flag.String("manifest-url", "", "presigned URL of the signed manifest")
	pubFile := flag.String("public-key", "", "PKIX PEM public key file")
	cache := flag.String("cache", "", "cache directory")
	arch := flag.String("arch", "amd64", "architecture")
	flag.Parse()
	pub, err := os.ReadFile(*pubFile)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	f := &artifact.Fetcher{CacheDir: *cache}
	ctx := context.Background()
	env, err := f.FetchManifest(ctx, *manifestURL)
	if err != nil {
		fail(err)
	}
	m, err := artifact.VerifyManifest(env, *manifestURL, string(pub))
	if err != nil {
		fail(err)
	}
	locals, err := f.Fetch(ctx, *manifestURL, m, "linux", *arch, "")
	if err != nil {
		fail(err)
	}
	hits := 0
	for _, l := range locals {
		if l.CacheHit {
			hits++
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"seconds": time.Since(start).Seconds(), "artifacts": len(locals), "cacheHits": hits})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "benchdownload:", err)
	os.Exit(1)
}
