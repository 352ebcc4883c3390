package devstack

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"go.temporal.io/sdk/client"

	"github.com/hogsend/hogsend/internal/pglocal"
)

// Given are the services the environment already provides; each one set is used instead of
// starting its own.
type Given struct {
	DatabaseURL     string
	TemporalAddress string
	SMTPURL         string
}

// Services is where the engine finds its services once Start returns; Own* say which of them
// this stack runs.
type Services struct {
	DatabaseURL       string
	TemporalAddress   string
	TemporalNamespace string // "" with a given Temporal: the environment's choice stands
	SMTPURL           string
	OwnTemporal       bool
	OwnMailpit        bool
}

// ServiceSteps is how many progress lines Start prints.
const ServiceSteps = 4

// Start brings up what given does not provide: the tools it needs, Postgres, Temporal and
// Mailpit, one progress line each.
func (s *Stack) Start(ctx context.Context, set *Settings, given Given) (*Services, error) {
	out := &Services{
		DatabaseURL:     given.DatabaseURL,
		TemporalAddress: given.TemporalAddress,
		SMTPURL:         given.SMTPURL,
		OwnTemporal:     given.TemporalAddress == "",
		OwnMailpit:      given.SMTPURL == "",
	}
	var need []tool
	if out.OwnTemporal {
		need = append(need, temporalCLI)
	}
	if out.OwnMailpit {
		need = append(need, mailpit)
	}
	done := s.Step("tools: %s", toolNames(need))
	bins, note, err := s.buildTools(ctx, need)
	if err != nil {
		done("failed")
		return nil, err
	}
	done(note)

	if out.DatabaseURL != "" {
		s.Step("postgres: using DATABASE_URL")("ok")
	} else {
		done := s.Step("postgres: private cluster %s/pg on 127.0.0.1:%d", s.Dir, set.Postgres.Port)
		if out.DatabaseURL, err = s.startPostgres(ctx, set); err != nil {
			done("failed")
			return nil, err
		}
		done("up")
	}

	if !out.OwnTemporal {
		s.Step("temporal: using TEMPORAL_ADDRESS %s", given.TemporalAddress)("ok")
	} else {
		t := set.Temporal
		done := s.Step("temporal: dev server on %s:%d, Web UI on :%d", t.IP, t.Port, t.UIPort)
		if err := s.startTemporal(ctx, bins[temporalCLI.name], set); err != nil {
			done("failed")
			return nil, err
		}
		out.TemporalAddress = net.JoinHostPort(t.IP, strconv.Itoa(t.Port))
		out.TemporalNamespace = t.Namespace
		done("up")
	}

	if !out.OwnMailpit {
		s.Step("mail: using SMTP_URL")("ok")
	} else {
		m := set.Mailpit
		done := s.Step("mailpit: SMTP 127.0.0.1:%d, API http://127.0.0.1:%d", m.SMTPPort, m.HTTPPort)
		if err := s.startMailpit(ctx, bins[mailpit.name], set); err != nil {
			done("failed")
			return nil, err
		}
		out.SMTPURL = fmt.Sprintf("smtp://127.0.0.1:%d", m.SMTPPort)
		done("up")
	}
	return out, nil
}

func portTaken(port int, what, setting string) error {
	if pglocal.PortFree(port) {
		return nil
	}
	return fmt.Errorf("port %d for %s is already in use: stop whatever holds it (another `dev`?) or change %s in temporal-dev.yml", port, what, setting)
}

func (s *Stack) startPostgres(ctx context.Context, set *Settings) (string, error) {
	if err := portTaken(set.Postgres.Port, "Postgres", "postgres.port"); err != nil {
		return "", err
	}
	logFile, err := os.OpenFile(s.logPath("postgres"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return "", err
	}
	c := &pglocal.Cluster{Dir: filepath.Join(s.Dir, "pg"), Port: set.Postgres.Port, Durable: true, Log: logFile}
	if err := c.Init(ctx); err != nil {
		logFile.Close()
		return "", err
	}
	if err := c.Start(ctx); err != nil {
		logFile.Close()
		return "", err
	}
	s.OnClose(func() { _ = c.Stop(); logFile.Close() })
	if err := c.CreateDatabase(ctx, set.Postgres.Database); err != nil {
		return "", err
	}
	return c.URL(set.Postgres.Database), nil
}

func (s *Stack) startTemporal(ctx context.Context, bin string, set *Settings) error {
	t := set.Temporal
	if err := portTaken(t.Port, "Temporal", "temporal.port"); err != nil {
		return err
	}
	if err := portTaken(t.UIPort, "the Temporal Web UI", "temporal.uiPort"); err != nil {
		return err
	}
	args := []string{"server", "start-dev",
		"--ip", t.IP, "--port", strconv.Itoa(t.Port), "--ui-port", strconv.Itoa(t.UIPort),
		"--namespace", t.Namespace, "--db-filename", filepath.Join(s.Dir, t.DBFile), "--log-level", t.LogLevel}
	for _, k := range slices.Sorted(maps.Keys(t.SearchAttributes)) {
		args = append(args, "--search-attribute", k+"="+t.SearchAttributes[k])
	}
	for _, k := range slices.Sorted(maps.Keys(t.DynamicConfig)) {
		v, err := yaml.MarshalWithOptions(t.DynamicConfig[k], yaml.JSON())
		if err != nil {
			return fmt.Errorf("dynamicConfig %s: %w", k, err)
		}
		args = append(args, "--dynamic-config-value", k+"="+strings.TrimSpace(string(v)))
	}
	if err := s.startChild("temporal", exec.Command(bin, args...)); err != nil {
		return err
	}
	addr := net.JoinHostPort(t.IP, strconv.Itoa(t.Port))
	return s.waitFor(ctx, "temporal", 90*time.Second, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, client.Options{HostPort: addr, Namespace: t.Namespace, Logger: quietLogger{}})
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			return err
		}
		return httpOK(ctx, fmt.Sprintf("http://%s:%d/", t.IP, t.UIPort))
	})
}

func (s *Stack) startMailpit(ctx context.Context, bin string, set *Settings) error {
	m := set.Mailpit
	if err := portTaken(m.SMTPPort, "Mailpit SMTP", "mailpit.smtpPort"); err != nil {
		return err
	}
	if err := portTaken(m.HTTPPort, "the Mailpit API", "mailpit.httpPort"); err != nil {
		return err
	}
	cmd := exec.Command(bin,
		"--smtp", fmt.Sprintf("127.0.0.1:%d", m.SMTPPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", m.HTTPPort),
		"--database", filepath.Join(s.Dir, m.DBFile),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	if err := s.startChild("mailpit", cmd); err != nil {
		return err
	}
	return s.waitFor(ctx, "mailpit", 30*time.Second, func(ctx context.Context) error {
		return httpOK(ctx, fmt.Sprintf("http://127.0.0.1:%d/api/v1/info", m.HTTPPort))
	})
}

// quietLogger drops the SDK's logs while dev polls a server that is still starting.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
