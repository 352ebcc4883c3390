package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Stack is what one `dev` run started, in its state directory. Close stops it all.
type Stack struct {
	Dir    string
	out    io.Writer
	stops  []func()
	stepNo int
	steps  int
}

// Open makes the state directory and returns an empty stack that numbers its progress lines
// out of steps.
func Open(dir string, out io.Writer, steps int) (*Stack, error) {
	if err := os.MkdirAll(filepath.Join(dir, "bin"), 0o755); err != nil {
		return nil, err
	}
	return &Stack{Dir: dir, out: out, steps: steps}, nil
}

// Step prints "[n/N] what … " and returns the function that ends the line with the result and
// the time the step took.
func (s *Stack) Step(format string, args ...any) (done func(result string)) {
	s.stepNo++
	start := time.Now()
	fmt.Fprintf(s.out, "[%d/%d] %s … ", s.stepNo, s.steps, fmt.Sprintf(format, args...))
	return func(result string) {
		fmt.Fprintf(s.out, "%s (%s)\n", result, time.Since(start).Round(100*time.Millisecond))
	}
}

// OnClose registers stop to run at Close, before everything registered earlier.
func (s *Stack) OnClose(stop func()) { s.stops = append(s.stops, stop) }

// Close stops everything in reverse order of start.
func (s *Stack) Close() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
}

// Secret is the token-signing secret of the local stack, generated once and kept in the state
// directory.
func (s *Stack) Secret() (string, error) {
	path := filepath.Join(s.Dir, "secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 48)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	return secret, os.WriteFile(path, []byte(secret+"\n"), 0o600)
}

// startChild runs a service in its own process group (so Ctrl-C reaches dev first and dev
// stops services in order) with a parent-death signal (so a killed dev leaves nothing behind).
func (s *Stack) startChild(name string, cmd *exec.Cmd) error {
	logFile, err := os.OpenFile(s.logPath(name), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	runtime.LockOSThread() // Pdeathsig follows the forking thread: keep it alive
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(exited) }()
	s.OnClose(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	return nil
}

func (s *Stack) logPath(name string) string { return filepath.Join(s.Dir, name+".log") }

// waitFor polls ready until it succeeds or the timeout passes; the tail of the service's log
// explains a failure.
func (s *Stack) waitFor(ctx context.Context, name string, timeout time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			tail, _ := os.ReadFile(s.logPath(name))
			if len(tail) > 1500 {
				tail = tail[len(tail)-1500:]
			}
			return fmt.Errorf("%s did not become ready within %s: %v\n--- %s ---\n%s", name, timeout, err, s.logPath(name), tail)
		}
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, res.Status)
	}
	return nil
}
