package hostmetrics

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// ReadBuild says what a binary is from what its build stamped: version
// (-X main.version, else the module version of bi, else "devel"), the
// commit it was built from (bi's VCS revision, "-dirty" when the tree had
// changes; else commit, -X main.commit; else "unknown") and the Go version
// that built it. bi may be nil.
func ReadBuild(stamped, commit string, bi *debug.BuildInfo) Build {
	ver, revision, goVersion := stamped, "unknown", runtime.Version()
	if commit != "" {
		revision = commit
	}
	if bi != nil {
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		if ver == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			ver = bi.Main.Version
		}
		dirty := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if dirty && revision != "unknown" {
			revision += "-dirty"
		}
	}
	if ver == "" {
		ver = "devel"
	}
	return Build{Version: ver, Revision: revision, GoVersion: goVersion}
}

// Line is what `razar --version` prints:
// razar v1.2.3 (commit abc1234, go1.26.8).
func (b Build) Line() string {
	hash, dirty, _ := strings.Cut(b.Revision, "-")
	if len(hash) > 7 {
		hash = hash[:7]
	}
	if dirty != "" {
		hash += "-" + dirty
	}
	return fmt.Sprintf("razar %s (commit %s, %s)", b.Version, hash, b.GoVersion)
}
