package phase_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/add2tkectl/add2tkectl/internal/treetest"
	"github.com/add2tkectl/add2tkectl/pkg/host"
	"github.com/add2tkectl/add2tkectl/pkg/paths"
	"github.com/add2tkectl/add2tkectl/pkg/phase"
)

// trace collects which phases ran, safely across goroutines.
type trace struct {
	mu  sync.Mutex
	ran []string
}

func (t *trace) add(s string) {
	t.mu.Lock()
	t.ran = append(t.ran, s)
	t.mu.Unlock()
}

func (t *trace) get() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.ran...)
}

// writing is a phase that writes one file under root through host.Root.
func writing(root host.Root, tr *trace, name string) phase.Phase {
	return phase.Phase{
		Name:        name,
		Description: "write " + name,
		Run: func(ctx context.Context, rec phase.Recorder) error {
			tr.add(name)
			_, err := root.WriteFile(rec, "/etc/add2tke-test/"+name+".conf", []byte("phase "+name+"\n"), 0o644)
			return err
		},
	}
}

func statuses(res *phase.Result) map[string]phase.Status {
	out := map[string]phase.Status{}
	for _, p := range res.Phases {
		out[p.Name] = p.Status
	}
	return out
}

func TestRunRunsPhasesInOrder(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	var progress bytes.Buffer
	phases := []phase.Phase{writing(root, tr, "c"), writing(root, tr, "a"), writing(root, tr, "b")}
	res, err := phase.Run(context.Background(), phases, phase.Options{Root: dir, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"c", "a", "b"}, tr.get()); diff != "" {
		t.Errorf("run order (-want +got):\n%s", diff)
	}
	var names []string
	for _, p := range res.Phases {
		names = append(names, p.Name)
		if p.Status != phase.StatusDone {
			t.Errorf("phase %s: status %s, want done", p.Name, p.Status)
		}
	}
	if diff := cmp.Diff([]string{"c", "a", "b"}, names); diff != "" {
		t.Errorf("result order (-want +got):\n%s", diff)
	}
	if !res.Changed {
		t.Error("a run whose phases ran reports changed=false")
	}
	for _, want := range []string{"[1/3] c: write c …\n", "[1/3] c: done in ", "[3/3] b: done in "} {
		if !strings.Contains(progress.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, progress.String())
		}
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		rec := j.Phase(n)
		if rec == nil || rec.Status != phase.StatusDone || rec.StartedAt == nil || rec.FinishedAt == nil {
			t.Errorf("journal of phase %s: %+v, want done with start and finish times", n, rec)
		}
	}
}

func TestRunSkipsNamedPhases(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	phases := []phase.Phase{writing(root, tr, "a"), writing(root, tr, "b"), writing(root, tr, "c")}
	res, err := phase.Run(context.Background(), phases, phase.Options{Root: dir, Skip: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "c"}, tr.get()); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	if got := statuses(res)["b"]; got != phase.StatusSkipped {
		t.Errorf("skipped phase has status %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "etc/add2tke-test/b.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the skipped phase wrote its file (stat: %v)", err)
	}
}

func TestRunRefusesUnknownSkipNameListingValidOnes(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	phases := []phase.Phase{writing(root, tr, "preflight"), writing(root, tr, "kubelet")}
	_, err := phase.Run(context.Background(), phases, phase.Options{Root: dir, Skip: []string{"kubelet", "kubelett"}})
	var ue *phase.UnknownPhaseError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v is not an *UnknownPhaseError", err)
	}
	if want := `unknown phase "kubelett": the phases are preflight, kubelet`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(tr.get()) != 0 {
		t.Errorf("phases ran despite the bad skip list: %v", tr.get())
	}
	assertNoEntries(t, dir)
}

func TestSatisfiedPhaseIsUnchangedAndNotRun(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	a := writing(root, tr, "a")
	a.Satisfied = func(context.Context) (bool, error) { return true, nil }
	res, err := phase.Run(context.Background(), []phase.Phase{a}, phase.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.get()) != 0 {
		t.Error("a satisfied phase ran")
	}
	if statuses(res)["a"] != phase.StatusUnchanged || res.Changed {
		t.Errorf("result %+v, want a unchanged and changed=false", res)
	}
}

// TestAwaitOfASatisfiedPhaseChangesNothing: a satisfied phase's Await runs
// (and a dry run does not call it); it leaves the phase unchanged and the
// run unchanged, and its failure fails the phase without making it changed.
func TestAwaitOfASatisfiedPhaseChangesNothing(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	a := writing(root, tr, "join")
	a.Satisfied = func(context.Context) (bool, error) { return true, nil }
	awaited := 0
	var awaitErr error
	a.Await = func(context.Context) error { awaited++; return awaitErr }
	b := writing(root, tr, "after")
	b.Satisfied = a.Satisfied

	if _, err := phase.Run(context.Background(), []phase.Phase{a, b}, phase.Options{Root: dir, DryRun: true}); err != nil || awaited != 0 {
		t.Fatalf("dry run: err %v, awaited %d times, want no await", err, awaited)
	}
	res, err := phase.Run(context.Background(), []phase.Phase{a, b}, phase.Options{Root: dir})
	if err != nil || awaited != 1 {
		t.Fatalf("err %v, awaited %d times, want once", err, awaited)
	}
	if len(tr.get()) != 0 || statuses(res)["join"] != phase.StatusUnchanged || res.Changed {
		t.Errorf("ran %v, result %+v: want nothing run, join unchanged, changed=false", tr.get(), res)
	}

	awaitErr = errors.New("node n1 not Ready: PLEG is not healthy")
	res, err = phase.Run(context.Background(), []phase.Phase{a, b}, phase.Options{Root: dir})
	if err == nil || !strings.Contains(err.Error(), "PLEG is not healthy") {
		t.Fatalf("err %v, want the await's error", err)
	}
	if st := statuses(res); st["join"] != phase.StatusFailed || st["after"] == phase.StatusUnchanged || res.Changed {
		t.Errorf("result %+v: want join failed, after not run, changed=false", res)
	}
}

func assertNoEntries(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("root %s is not empty: %v", dir, entries)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	// A host that already went through one install: files and a journal.
	first := []phase.Phase{writing(root, tr, "a"), writing(root, tr, "b")}
	if _, err := phase.Run(context.Background(), first, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	before := treetest.Snapshot(t, dir)

	var checked []string
	satisfied := writing(root, tr, "a")
	satisfied.Satisfied = func(context.Context) (bool, error) { checked = append(checked, "a"); return true, nil }
	pending := writing(root, tr, "b")
	pending.Satisfied = func(context.Context) (bool, error) { checked = append(checked, "b"); return false, nil }
	broken := writing(root, tr, "c")
	broken.Satisfied = func(context.Context) (bool, error) { return false, errors.New("cannot read /proc/swaps") }
	phases := []phase.Phase{satisfied, pending, broken, writing(root, tr, "d"), writing(root, tr, "e")}
	ran := len(tr.get())
	var progress bytes.Buffer
	res, err := phase.Run(context.Background(), phases, phase.Options{Root: dir, DryRun: true, Skip: []string{"e"}, Progress: &progress})
	if err != nil {
		t.Fatal(err)
	}
	if got := tr.get()[ran:]; len(got) != 0 {
		t.Errorf("a dry run ran phases %v", got)
	}
	if diff := cmp.Diff(before, treetest.Snapshot(t, dir)); diff != "" {
		t.Errorf("a dry run changed the root (-before +after):\n%s", diff)
	}
	want := map[string]phase.Status{"a": phase.StatusUnchanged, "b": phase.StatusPlanned, "c": phase.StatusPlanned, "d": phase.StatusPlanned, "e": phase.StatusSkipped}
	if diff := cmp.Diff(want, statuses(res)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, checked); diff != "" {
		t.Errorf("a dry run must ask each phase whether it is satisfied (-want +got):\n%s", diff)
	}
	if !res.DryRun || res.Changed {
		t.Errorf("result %+v: want dryRun=true changed=false", res)
	}
	if !strings.Contains(res.Phases[2].Error, "cannot read /proc/swaps") {
		t.Errorf("the plan hides why phase c's check failed: %+v", res.Phases[2])
	}
	if progress.Len() != 0 {
		t.Errorf("a dry run printed progress (the plan is the result):\n%s", progress.String())
	}
}

func TestDryRunOnAFreshHostCreatesNoJournal(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	if _, err := phase.Run(context.Background(), []phase.Phase{writing(root, tr, "a")}, phase.Options{Root: dir, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	assertNoEntries(t, dir)
}

// typedErr stands for a capability's typed error that the CLI maps to an exit code.
type typedErr struct{ code int }

func (e *typedErr) Error() string {
	return fmt.Sprintf("artifact kubelet: checksum mismatch (code %d)", e.code)
}

func TestFailingPhaseStopsTheRun(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	failing := phase.Phase{
		Name: "download", Description: "download the artifacts",
		Run: func(ctx context.Context, rec phase.Recorder) error {
			tr.add("download")
			if _, err := root.WriteFile(rec, "/var/cache/add2tke/partial", []byte("half"), 0o600); err != nil {
				return err
			}
			return fmt.Errorf("fetch kubelet: %w", &typedErr{code: 4})
		},
	}
	phases := []phase.Phase{writing(root, tr, "preflight"), failing, writing(root, tr, "runtime"), writing(root, tr, "kubelet")}
	var progress bytes.Buffer
	res, err := phase.Run(context.Background(), phases, phase.Options{Root: dir, Progress: &progress})
	if err == nil {
		t.Fatal("the run succeeded although a phase failed")
	}
	if want := "phase download: fetch kubelet: artifact kubelet: checksum mismatch (code 4)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	var te *typedErr
	if !errors.As(err, &te) || te.code != 4 {
		t.Errorf("the phase's typed error is lost in %v", err)
	}
	if diff := cmp.Diff([]string{"preflight", "download"}, tr.get()); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"runtime", "kubelet"}, res.NotRun); diff != "" {
		t.Errorf("notRun (-want +got):\n%s", diff)
	}
	if got := statuses(res)["download"]; got != phase.StatusFailed {
		t.Errorf("failed phase has status %q", got)
	}
	if !strings.Contains(progress.String(), "[2/4] download: failed after ") {
		t.Errorf("progress does not report the failure:\n%s", progress.String())
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	rec := j.Phase("download")
	if rec == nil || rec.Status != phase.StatusFailed || !strings.Contains(rec.Error, "checksum mismatch") || len(rec.Files) != 1 {
		t.Errorf("journal of the failed phase: %+v, want failed with its error and its one file", rec)
	}
	if j.Phase("runtime") != nil {
		t.Error("the journal has a phase that never ran")
	}
}

func TestPhaseErrorsAreRedacted(t *testing.T) {
	const token = "abcdef.0123456789abcdef"
	const query = "q-sign-algorithm=sha1&q-signature=5ecre7"
	dir := t.TempDir()
	leaky := phase.Phase{Name: "join", Description: "join", Run: func(context.Context, phase.Recorder) error {
		return fmt.Errorf("GET https://bucket.cos.example/manifest.json?%s with token %s: %w", query, token, context.DeadlineExceeded)
	}}
	var progress bytes.Buffer
	res, err := phase.Run(context.Background(), []phase.Phase{leaky}, phase.Options{Root: dir, Progress: &progress})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v does not wrap the cause", err)
	}
	journal, rerr := os.ReadFile(filepath.Join(dir, paths.JournalPath))
	if rerr != nil {
		t.Fatal(rerr)
	}
	for where, text := range map[string]string{"error": err.Error(), "result": res.Phases[0].Error, "progress": progress.String(), "journal": string(journal)} {
		if strings.Contains(text, "0123456789abcdef") || strings.Contains(text, "5ecre7") {
			t.Errorf("%s leaks a secret: %s", where, text)
		}
		if !strings.Contains(text, "manifest.json") {
			t.Errorf("%s lost the non-secret context: %s", where, text)
		}
	}
}

func TestCancelStopsBetweenPhases(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sawCancel bool
	interrupted := phase.Phase{Name: "a", Description: "a", Run: func(ctx context.Context, rec phase.Recorder) error {
		tr.add("a")
		cancel() // SIGINT arrives while the phase runs
		<-ctx.Done()
		sawCancel = true // the phase's own context carries the cancellation
		return nil
	}}
	res, err := phase.Run(ctx, []phase.Phase{interrupted, writing(root, tr, "b")}, phase.Options{Root: dir})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "before phase b") {
		t.Fatalf("error %v, want a cancellation before phase b", err)
	}
	if !sawCancel {
		t.Error("the running phase did not see the cancellation")
	}
	if diff := cmp.Diff([]string{"a"}, tr.get()); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	if statuses(res)["a"] != phase.StatusDone || len(res.NotRun) != 1 {
		t.Errorf("result %+v: want a done and b not run", res)
	}
}

func TestJournalAccumulatesAcrossRuns(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	kubelet := phase.Phase{Name: "kubelet", Description: "kubelet", Run: func(ctx context.Context, rec phase.Recorder) error {
		if _, err := root.WriteFile(rec, "/etc/kubernetes/kubelet.conf", []byte("v1"), 0o600); err != nil {
			return err
		}
		return errors.Join(rec.Unit("kubelet.service"), rec.Dir("/var/lib/kubelet"), rec.Set("kubelet.version", "v1.35.4"))
	}}
	phases := []phase.Phase{writing(root, tr, "runtime"), kubelet}
	if _, err := phase.Run(context.Background(), phases, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	// Second run: kubelet is satisfied now and does not run again.
	kubelet.Satisfied = func(context.Context) (bool, error) { return true, nil }
	phases[1] = kubelet
	if _, err := phase.Run(context.Background(), phases, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range j.Files() {
		paths = append(paths, f.Path)
	}
	if diff := cmp.Diff([]string{"/etc/add2tke-test/runtime.conf", "/etc/kubernetes/kubelet.conf"}, paths); diff != "" {
		t.Errorf("files (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"kubelet.service"}, j.Units()); diff != "" {
		t.Errorf("units (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/var/lib/kubelet"}, j.Dirs()); diff != "" {
		t.Errorf("dirs (-want +got):\n%s", diff)
	}
	if got := j.Values()["kubelet.version"]; got != "v1.35.4" {
		t.Errorf("value kubelet.version = %q", got)
	}
	if rec := j.Phase("kubelet"); rec.Status != phase.StatusUnchanged || rec.CheckedAt == nil || rec.FinishedAt == nil {
		t.Errorf("kubelet record %+v: want unchanged, checked now, finished by the first run", rec)
	}
}

func TestRecorderIsSafeForConcurrentCallsAndDeduplicates(t *testing.T) {
	dir := t.TempDir()
	const n = 16
	parallel := phase.Phase{Name: "images", Description: "images", Run: func(ctx context.Context, rec phase.Recorder) error {
		var wg sync.WaitGroup
		errs := make(chan error, 4*n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := fmt.Sprintf("/var/lib/add2tke/image-%02d.tar", i)
				errs <- rec.File(p, "old")
				errs <- rec.File(p, fmt.Sprintf("sum-%02d", i)) // rewritten: same path, new sum
				errs <- rec.Unit("containerd.service")
				errs <- rec.Set(fmt.Sprintf("image-%02d", i), "imported")
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{parallel}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	files := j.Files()
	if len(files) != n {
		t.Fatalf("journal lists %d files, want %d: %+v", len(files), n, files)
	}
	for i, f := range files {
		if want := fmt.Sprintf("sum-%02d", i); f.SHA256 != want {
			t.Errorf("%s: sha256 %q, want the later record %q", f.Path, f.SHA256, want)
		}
	}
	if len(j.Units()) != 1 || len(j.Values()) != n {
		t.Errorf("units %v, %d values: want 1 unit and %d values", j.Units(), len(j.Values()), n)
	}
	info, err := os.Stat(filepath.Join(dir, paths.JournalPath))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v, want 0600", info.Mode().Perm())
	}
}

func TestCorruptJournalIsAnErrorThatSaysWhatToDo(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, paths.JournalPath)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := phase.Run(context.Background(), []phase.Phase{{Name: "a", Run: func(context.Context, phase.Recorder) error { return nil }}}, phase.Options{Root: dir})
	if err == nil || !strings.Contains(err.Error(), "move it aside") {
		t.Errorf("error %v, want one that says to move the journal aside", err)
	}
}

func TestRecordingWhatIsAlreadyRecordedDoesNotRewriteTheJournal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, paths.JournalPath)
	inode := func() uint64 {
		t.Helper()
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return info.Sys().(*syscall.Stat_t).Ino // each atomic rewrite is a new inode
	}
	p := phase.Phase{Name: "kubelet", Description: "kubelet", Run: func(ctx context.Context, rec phase.Recorder) error {
		record := func(sum string) error {
			return errors.Join(rec.File("/etc/kubernetes/kubelet.conf", sum), rec.Dir("/var/lib/kubelet"),
				rec.Unit("kubelet.service"), rec.Set("kubelet.version", "v1.35.4"))
		}
		if err := record("sum1"); err != nil {
			return err
		}
		before := inode()
		if err := record("sum1"); err != nil {
			return err
		}
		if inode() != before {
			t.Error("recording the same facts again rewrote the journal")
		}
		if err := rec.File("/etc/kubernetes/kubelet.conf", "sum2"); err != nil {
			return err
		}
		if inode() == before {
			t.Error("a changed sha256 did not reach the journal")
		}
		return nil
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{p}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
}

// A run of satisfied phases writes the journal once, at its end (each
// write fsyncs file and directory), and that write has every phase's
// check; a phase that does work is saved at once, with what came before.
func TestSatisfiedPhasesAreSavedOnceAtTheEnd(t *testing.T) {
	dir := t.TempDir()
	root, tr := host.Root{Dir: dir}, &trace{}
	journal := filepath.Join(dir, paths.JournalPath)
	inode := func() uint64 {
		st, err := os.Stat(journal)
		if err != nil {
			return 0
		}
		return st.Sys().(*syscall.Stat_t).Ino
	}
	var seen []uint64
	satisfied := func(name string) phase.Phase {
		p := writing(root, tr, name)
		p.Satisfied = func(context.Context) (bool, error) { seen = append(seen, inode()); return true, nil }
		return p
	}
	// A first run gives the journal a file to compare against.
	if _, err := phase.Run(context.Background(), []phase.Phase{writing(root, tr, "w")}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	before := inode()
	if _, err := phase.Run(context.Background(), []phase.Phase{satisfied("a"), satisfied("b"), satisfied("c")}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	for i, ino := range seen {
		if ino != before {
			t.Errorf("the journal was rewritten before phase %d's check: satisfied phases must not write one by one", i)
		}
	}
	if inode() == before {
		t.Error("the run of satisfied phases never saved their checks")
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if r := j.Phase(n); r == nil || r.CheckedAt == nil || r.Status != phase.StatusUnchanged {
			t.Errorf("phase %s in the journal: %+v, want unchanged with its check time", n, r)
		}
	}
}

// RecordFiles through a phase's recorder lists every file in the journal,
// a record of a path already listed taking the new sum.
func TestRecordFilesListsEveryFileOnce(t *testing.T) {
	dir := t.TempDir()
	p := phase.Phase{Name: "a", Description: "a", Run: func(_ context.Context, rec phase.Recorder) error {
		if err := rec.File("/x", "old"); err != nil {
			return err
		}
		return phase.RecordFiles(rec, []phase.FileRecord{{Path: "/x", SHA256: "new"}, {Path: "/y", SHA256: "y"}})
	}}
	if _, err := phase.Run(context.Background(), []phase.Phase{p}, phase.Options{Root: dir}); err != nil {
		t.Fatal(err)
	}
	j, err := phase.LoadJournal(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []phase.FileRecord{{Path: "/x", SHA256: "new"}, {Path: "/y", SHA256: "y"}}
	if diff := cmp.Diff(want, j.Phase("a").Files); diff != "" {
		t.Errorf("journal files (-want +got):\n%s", diff)
	}
}
