package patch_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/razar/razar/patch"
)

// A model's diff whose hunk header is wrong (it says line 1; its lines
// start at line 2) and whose paths lack a/ and b/: Check places the hunk by its content,
// notes how in Placement, and Diff is the placed diff Stage applies. A
// hunk that matches nowhere is refused with a reason naming it.
func ExampleCheck_placement() {
	dir, err := os.MkdirTemp("", "patch-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	conf := "# ledger\nlisten=127.0.0.1\nprot=8200\nlog=info\n"
	if err := os.WriteFile(filepath.Join(dir, "ledger.conf"), []byte(conf), 0o644); err != nil {
		panic(err)
	}

	sloppy := "--- ledger.conf\n+++ ledger.conf\n@@ -1,3 +1,3 @@\n listen=127.0.0.1\n-prot=8200\n+port=8200\n log=info\n"
	plan, err := patch.Check(sloppy, dir, patch.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range plan.Files {
		fmt.Println(f.Op, f.Path)
	}
	for _, note := range plan.Placement {
		fmt.Println("placement:", note)
	}
	fmt.Print(plan.Diff)

	nowhere := "--- ledger.conf\n+++ ledger.conf\n@@ -1 +1 @@\n-port=9999\n+port=8200\n"
	_, err = patch.Check(nowhere, dir, patch.Limits{})
	fmt.Println(errors.Is(err, patch.ErrRejected), err)
	// Output:
	// modify ledger.conf
	// placement: hunk 1 of ledger.conf placed at line 2, not 1 as stated
	// --- ledger.conf
	// +++ ledger.conf
	// @@ -2,3 +2,3 @@
	//  listen=127.0.0.1
	// -prot=8200
	// +port=8200
	//  log=info
	// true patch rejected: hunk 1 of ledger.conf (first lines "-port=9999", "+port=8200") does not match ledger.conf, exactly or ignoring trailing whitespace: none of its unchanged or removed lines is in the file. Copy them from the file as they are
}
