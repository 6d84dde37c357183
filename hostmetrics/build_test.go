package hostmetrics_test

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/razar/razar/hostmetrics"
)

func TestBuildInfoReadsTheVCSStampAndTheLinkerVersion(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "abc1234def5678abc1234def5678abc1234def56"}, {Key: "vcs.modified", Value: "true"}}}
	b := hostmetrics.ReadBuild("", "", bi)
	if b.Version != "devel" || b.Revision != "abc1234def5678abc1234def5678abc1234def56-dirty" || b.GoVersion != "go1.26.8" {
		t.Fatalf("ReadBuild = %+v", b)
	}
	if got, want := b.Line(), "razar devel (commit abc1234-dirty, go1.26.8)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
	bi.Main.Version = "v0.2.0"
	if b := hostmetrics.ReadBuild("", "", bi); b.Version != "v0.2.0" {
		t.Errorf("module version: got %q", b.Version)
	}
	if b := hostmetrics.ReadBuild("v0.3.1", "", bi); b.Version != "v0.3.1" {
		t.Errorf("-X main.version=v0.3.1 should win over the module version: got %q", b.Version)
	}
	if b := hostmetrics.ReadBuild("", "", nil); b.Version != "devel" || b.Revision != "unknown" || b.GoVersion != runtime.Version() {
		t.Errorf("no build info: %+v", b)
	}
}
