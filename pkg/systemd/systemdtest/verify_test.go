package systemdtest

import (
	"errors"
	"strings"
	"testing"
)

func TestVerifyUnitsCatchesWhatSystemdOnlyWarnsAbout(t *testing.T) {
	good := "[Unit]\nDescription=x\n\n[Service]\nExecStart=/usr/local/bin/x\n\n[Install]\nWantedBy=multi-user.target\n"
	err := VerifyUnits(t.TempDir(), map[string][]byte{"/etc/systemd/system/x.service": []byte(good)})
	if errors.Is(err, ErrNoSystemdAnalyze) {
		t.Skip(err.Error())
	}
	if err != nil {
		t.Fatalf("a valid unit was refused: %v", err)
	}
	for name, files := range map[string]map[string][]byte{
		"unknown key in unit": {"/etc/systemd/system/x.service": []byte(strings.Replace(good, "Description=x", "Descripton=x", 1))},
		"unknown key in drop-in": {
			"/etc/systemd/system/x.service":             []byte(good),
			"/etc/systemd/system/x.service.d/10-a.conf": []byte("[Service]\nKilMode=process\n"),
		},
		"relative ExecStart": {"/etc/systemd/system/x.service": []byte(strings.Replace(good, "/usr/local/bin/x", "x y", 1) + "")},
	} {
		if err := VerifyUnits(t.TempDir(), files); err == nil {
			t.Errorf("%s: verified without complaint", name)
		}
	}
}
