package pgcmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/razar/razar/internal/wait"
)

func TestRelativePathResolvesAgainstDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello.sh"), []byte("#!/bin/sh\necho hello from $PWD $GREETING\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cmd, err := Command(context.Background(), []string{"./hello.sh"}, dir, []string{"GREETING=hi"}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); !strings.HasSuffix(got, "hi") || !strings.Contains(got, filepath.Base(dir)) {
		t.Fatalf("output %q", got)
	}
}

func TestCancelKillsTheGroup(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	// The script forks a child that would outlive a plain kill of the leader.
	cmd, err := Command(ctx, []string{"sh", "-c", "sleep 600 & echo $! > child; wait"}, dir, nil, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var child string
	wait.For(t, 5*time.Second, func() error {
		b, _ := os.ReadFile(filepath.Join(dir, "child"))
		if child = strings.TrimSpace(string(b)); child == "" {
			return errors.New("the script never wrote its child's pid")
		}
		return nil
	})
	cancel()
	_ = cmd.Wait()
	wait.For(t, 10*time.Second, func() error {
		if _, err := os.Stat("/proc/" + child); os.IsNotExist(err) {
			return nil
		}
		stat, _ := os.ReadFile("/proc/" + child + "/stat")
		if i := strings.LastIndexByte(string(stat), ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
			return nil
		}
		return fmt.Errorf("child %s outlived the cancelled group", child)
	})
}
