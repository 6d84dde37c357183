// Command razar-standin serves the stand-in model (package
// internal/standin) on a loopback port: an OpenAI-compatible
// chat-completions endpoint for the demo, the tests and the failure corpus.
// It is not a model: it repairs a handful of known failures from what RAZAR
// sends it, and answers no_fix to everything else.
//
//	razar-standin [-listen 127.0.0.1:0] [-url-file F] [-sloppy] [-refuse-tools] [-key-env VAR]
//
// It prints the base URL to give a rung ("endpoint": "http://127.0.0.1:PORT/v1")
// and, with -url-file, writes it there (atomically), then serves until
// SIGINT or SIGTERM.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/razar/razar/internal/homedir"
	"github.com/razar/razar/internal/standin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "razar-standin:", err)
		os.Exit(2)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("razar-standin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on (host:port; port 0 picks a free one)")
	urlFile := fs.String("url-file", "", "write the endpoint's base URL to this file once listening")
	sloppy := fs.Bool("sloppy", false, "write hunk headers without line numbers (@@ ... @@), as models often do")
	refuse := fs.Bool("refuse-tools", false, "answer requests that offer tools with HTTP 400, like a server without tool support")
	keyEnv := fs.String("key-env", "", "require the bearer token held by this environment variable")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := standin.Config{Sloppy: *sloppy, RefuseTools: *refuse}
	if *keyEnv != "" {
		if cfg.Key = os.Getenv(*keyEnv); cfg.Key == "" {
			return fmt.Errorf("-key-env %s: the variable is unset or empty (fix: export it, or drop -key-env)", *keyEnv)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("-listen %s: %w", *listen, err)
	}
	url := "http://" + ln.Addr().String() + "/v1"
	if *urlFile != "" {
		if err := homedir.WriteAtomic(*urlFile, []byte(url+"\n"), 0o644); err != nil {
			ln.Close()
			return fmt.Errorf("-url-file: %w", err)
		}
	}
	fmt.Fprintf(stdout, "stand-in model (not a model: it knows a few failures) at %s\n", url)
	srv := &http.Server{Handler: standin.New(cfg), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
