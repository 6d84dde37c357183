package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServesUntilCancelledAndWritesItsURL: the URL file names an endpoint
// that answers chat completions with the key it was given, and cancelling
// the context stops the server cleanly.
func TestServesUntilCancelledAndWritesItsURL(t *testing.T) {
	t.Setenv("STANDIN_TEST_KEY", "k-123")
	urlFile := filepath.Join(t.TempDir(), "url")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-url-file", urlFile, "-key-env", "STANDIN_TEST_KEY"}, io.Discard, io.Discard)
	}()
	var url string
	deadline := time.Now().Add(10 * time.Second)
	for url == "" {
		if b, err := os.ReadFile(urlFile); err == nil {
			url = strings.TrimSpace(string(b))
			break
		}
		select {
		case err := <-done:
			t.Fatalf("run returned before listening: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no URL file after 10 s")
		}
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/chat/completions", strings.NewReader(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Authorization", "Bearer k-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `"chat.completion"`) {
		t.Fatalf("HTTP %d %s, want a chat completion", res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run = %v after cancel, want nil", err)
	}
}

// TestKeyEnvUnsetIsAClearError: -key-env naming an empty variable fails
// before listening, naming the variable and the fix.
func TestKeyEnvUnsetIsAClearError(t *testing.T) {
	t.Setenv("STANDIN_TEST_EMPTY", "")
	err := run(t.Context(), []string{"-key-env", "STANDIN_TEST_EMPTY"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "-key-env STANDIN_TEST_EMPTY: the variable is unset or empty (fix:") {
		t.Fatalf("run = %v, want the variable named with the fix", err)
	}
}
