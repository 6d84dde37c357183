package jetstream_test

import (
	"os"
	"testing"

	"github.com/razar/razar/jetstream"
)

// TestStoreHeldSeesTheLockComeAndGo: StoreHeld says a store is held, with
// the holder's pid, while LockStore holds it, and not once it is let go,
// which is how a waiting CLI notices its RAZAR died.
func TestStoreHeldSeesTheLockComeAndGo(t *testing.T) {
	dir := t.TempDir()
	if _, held := jetstream.StoreHeld(dir); held {
		t.Fatal("a store never locked is held")
	}
	unlock, err := jetstream.LockStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	if pid, held := jetstream.StoreHeld(dir); !held || pid != os.Getpid() {
		t.Fatalf("StoreHeld = %d, %v while locked; want %d, true", pid, held, os.Getpid())
	}
	unlock()
	if _, held := jetstream.StoreHeld(dir); held {
		t.Fatal("the store is still held after its lock was let go")
	}
	// Taking it again works: StoreHeld kept no lock of its own.
	unlock, err = jetstream.LockStore(dir)
	if err != nil {
		t.Fatalf("lock after StoreHeld: %v", err)
	}
	unlock()
}
