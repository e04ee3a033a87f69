package preflight

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ErrNoExpiry means a URL carries no presigned validity window.
var ErrNoExpiry = errors.New("no presigned validity in the URL")

// PresignedWindow returns the validity window of a COS presigned URL: the
// "start;end" unix seconds of q-sign-time (and q-key-time, the narrower
// wins), also when COS packs them into a single "sign" parameter; or the
// S3-style X-Amz-Date plus X-Amz-Expires.
func PresignedWindow(raw string) (start, end time.Time, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("the manifest URL does not parse")
	}
	q := lenientQuery(u.RawQuery)
	if sign := q.Get("sign"); sign != "" {
		for k, v := range lenientQuery(sign) {
			q[k] = v
		}
	}
	found := false
	for _, k := range []string{"q-sign-time", "q-key-time"} {
		v := q.Get(k)
		if v == "" {
			continue
		}
		s, e, err := parseWindow(v)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("%s of the manifest URL: %w", k, err)
		}
		if !found || s.After(start) {
			start = s
		}
		if !found || e.Before(end) {
			end = e
		}
		found = true
	}
	if found {
		return start, end, nil
	}
	if d, exp := q.Get("X-Amz-Date"), q.Get("X-Amz-Expires"); d != "" && exp != "" {
		t, err := time.Parse("20060102T150405Z", d)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("X-Amz-Date of the manifest URL: not yyyymmddThhmmssZ")
		}
		secs, err := strconv.ParseInt(exp, 10, 64)
		if err != nil || secs < 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("X-Amz-Expires of the manifest URL: not a number of seconds")
		}
		return t, t.Add(time.Duration(secs) * time.Second), nil
	}
	return time.Time{}, time.Time{}, ErrNoExpiry
}

// lenientQuery parses a query string keeping raw ';' inside values (as in
// "q-sign-time=1;2"), which url.ParseQuery rejects.
func lenientQuery(raw string) url.Values {
	q := url.Values{}
	for _, pair := range strings.Split(raw, "&") {
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 == nil && err2 == nil && k != "" {
			q.Add(k, v)
		}
	}
	return q
}

func parseWindow(v string) (time.Time, time.Time, error) {
	a, b, ok := strings.Cut(v, ";")
	if !ok {
		return time.Time{}, time.Time{}, fmt.Errorf("not start;end")
	}
	s, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	e, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
	if err1 != nil || err2 != nil || e < s {
		return time.Time{}, time.Time{}, fmt.Errorf("not start;end in unix seconds")
	}
	return time.Unix(s, 0), time.Unix(e, 0), nil
}

// presignMargin is how much validity install wants left: the downloads
// of a slow link must finish before the link expires.
const presignMargin = 10 * time.Minute

const remedyExpired = "the download link has expired; regenerate the script in the console (or the configuration's manifestURL) and run it again"

var checkPresignedLink = Check{
	Name:        "presigned-link-not-expired",
	Description: "the presigned manifest URL is still valid",
	Run: func(_ context.Context, in *Inputs) Result {
		raw := in.Config.Artifacts.ManifestURL
		if in.Offline || raw == "" {
			return ok("no download link in use (offline artifacts)")
		}
		start, end, err := PresignedWindow(raw)
		if errors.Is(err, ErrNoExpiry) {
			return ok("the manifest URL is not presigned: no expiry")
		}
		if err != nil {
			return fail("regenerate the script in the console", "%v", err)
		}
		now := in.Now()
		switch {
		case !now.Before(end):
			return fail(remedyExpired, "the download link expired at %s, %s ago", end.UTC().Format(time.RFC3339), now.Sub(end).Round(time.Second))
		case now.Before(start.Add(-time.Minute)):
			return warn("check the clock of this host (chronyd or systemd-timesyncd)",
				"the download link is valid from %s, which is %s in the future by this host's clock", start.UTC().Format(time.RFC3339), start.Sub(now).Round(time.Second))
		case end.Sub(now) < presignMargin:
			return warn("if downloads fail with an expired link, regenerate the script in the console",
				"the download link expires in %s, at %s", end.Sub(now).Round(time.Second), end.UTC().Format(time.RFC3339))
		}
		return ok("the download link is valid until %s (%s left)", end.UTC().Format(time.RFC3339), end.Sub(now).Round(time.Second))
	},
}
