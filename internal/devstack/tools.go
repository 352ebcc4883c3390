package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// tool is a service binary dev builds from its own module under tools/ (one module each, so
// their dependency graphs never meet ours or each other's).
type tool struct{ name, pkg, label string }

// TemporalCLIVersion is the Temporal CLI dev builds (pinned in tools/temporal/go.mod).
const TemporalCLIVersion = "v1.5.1"

var (
	temporalCLI = tool{"temporal", "github.com/temporalio/cli/cmd/temporal", "Temporal CLI " + TemporalCLIVersion}
	mailpit     = tool{"mailpit", "github.com/axllent/mailpit", "Mailpit"}
)

func toolNames(ts []tool) string {
	if len(ts) == 0 {
		return "none needed"
	}
	labels := make([]string, len(ts))
	for i, t := range ts {
		labels[i] = t.label
	}
	return strings.Join(labels, " and ")
}

// buildTools builds the missing tools into Dir/bin once; later runs reuse the binaries. Without
// the tools/ modules (dev run outside this repository), binaries on PATH are used.
func (s *Stack) buildTools(ctx context.Context, need []tool) (map[string]string, string, error) {
	if len(need) == 0 {
		return nil, "skipped", nil
	}
	binDir, err := filepath.Abs(filepath.Join(s.Dir, "bin"))
	if err != nil {
		return nil, "", err
	}
	bins := map[string]string{}
	var missing []tool
	for _, t := range need {
		bins[t.name] = filepath.Join(binDir, t.name)
		if _, err := os.Stat(bins[t.name]); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return bins, "cached", nil
	}
	if _, err := os.Stat(filepath.Join("tools", "temporal", "go.mod")); err != nil {
		for _, t := range missing {
			p, err := exec.LookPath(t.name)
			if err != nil {
				return nil, "", fmt.Errorf("%s is not built: run `dev` from the Hogsend repository "+
					"(it builds it from tools/%s/go.mod) or put `%s` on PATH", t.label, t.name, t.name)
			}
			bins[t.name] = p
		}
		return bins, "found on PATH", nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, "", errors.New("building the dev tools needs the Go toolchain on PATH")
	}
	fmt.Fprintf(s.out, "\n      first run: compiling from the module proxy (about 5–10 minutes on 2 cores)\n")
	for _, t := range missing {
		fmt.Fprintf(s.out, "      %s (%s)… ", t.name, t.pkg)
		start := time.Now()
		cmd := exec.CommandContext(ctx, goBin, "build", "-o", bins[t.name], t.pkg)
		cmd.Dir = filepath.Join("tools", t.name)
		var output strings.Builder
		cmd.Stdout, cmd.Stderr = &output, &output
		if err := runWithTicker(cmd, s.out, start); err != nil {
			return nil, "", fmt.Errorf("build %s: %w\n%s", t.name, err, output.String())
		}
		fmt.Fprintf(s.out, "built in %s\n", time.Since(start).Round(time.Second))
	}
	fmt.Fprint(s.out, "      ")
	return bins, "built", nil
}

// runWithTicker runs cmd, printing the elapsed time every 30 s so a long build shows progress.
func runWithTicker(cmd *exec.Cmd, out io.Writer, start time.Time) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	finished := make(chan error, 1)
	go func() { finished <- cmd.Wait() }()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	for {
		select {
		case err := <-finished:
			return err
		case <-tick.C:
			fmt.Fprintf(out, "%s… ", time.Since(start).Round(time.Second))
		}
	}
}
