// Package pglocal runs a private PostgreSQL cluster from the PostgreSQL binaries installed on the
// machine. `hogsend dev` keeps one under .hogsend/; the test harness makes a throwaway one.
//
// PostgreSQL refuses to run as root, so when the current user is root the binaries run as the
// "postgres" OS user and the data directory is handed to that user. The server is a child
// process that receives SIGTERM when its parent dies, so a killed parent leaves nothing behind.
package pglocal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries is returned when no PostgreSQL server binaries can be found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, postgres) not found: install PostgreSQL " +
	"(e.g. `apt-get install postgresql`) or set PG_BIN_DIR, or point DATABASE_URL at a running server")

// Cluster is one data directory and the server serving it.
type Cluster struct {
	// Dir is the data directory; created by Init when missing.
	Dir string
	// Port is the TCP port on 127.0.0.1. Zero picks a free port at Start.
	Port int
	// Durable keeps fsync on; test clusters turn it off for speed.
	Durable bool
	// Log receives the server's output; nil discards it.
	Log io.Writer

	binDir string
	cred   *syscall.Credential
	owner  *user.User
	cmd    *exec.Cmd
	exited chan error
}

// BinDir finds the directory holding initdb and postgres: $PG_BIN_DIR, then the newest
// /usr/lib/postgresql/*/bin, then $PATH.
func BinDir() (string, error) {
	if dir := os.Getenv("PG_BIN_DIR"); dir != "" {
		if isExecutable(filepath.Join(dir, "initdb")) {
			return dir, nil
		}
		return "", fmt.Errorf("PG_BIN_DIR=%s has no initdb: %w", dir, ErrNoBinaries)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func (c *Cluster) prepare() error {
	if c.binDir != "" {
		return nil
	}
	// The server runs from "/" as another user: relative paths would point elsewhere.
	abs, err := filepath.Abs(c.Dir)
	if err != nil {
		return err
	}
	c.Dir = abs
	dir, err := BinDir()
	if err != nil {
		return err
	}
	c.binDir = dir
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return errors.New("running as root, but there is no `postgres` OS user to run PostgreSQL as " +
			"(PostgreSQL refuses to run as root): install the postgresql package or run as another user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	c.owner = u
	c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	return nil
}

// Initialized reports whether Dir already holds a cluster.
func (c *Cluster) Initialized() bool {
	_, err := os.Stat(filepath.Join(c.Dir, "PG_VERSION"))
	return err == nil
}

// Init creates the data directory with initdb (trust auth on loopback, superuser "postgres")
// unless it already holds a cluster.
func (c *Cluster) Init(ctx context.Context) error {
	if err := c.prepare(); err != nil {
		return err
	}
	if c.Initialized() {
		return nil
	}
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", c.Dir, err)
	}
	if err := c.handOver(c.Dir); err != nil {
		return err
	}
	args := []string{"-D", c.Dir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C"}
	if !c.Durable {
		args = append(args, "--no-sync")
	}
	out, err := c.command(ctx, "initdb", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s: %w\n%s", c.Dir, err, out)
	}
	return nil
}

// handOver gives dir to the postgres OS user when running as root, after checking that user can
// reach it (a data directory under a private home directory cannot work).
func (c *Cluster) handOver(dir string) error {
	if c.cred == nil {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for p := filepath.Dir(abs); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("the postgres OS user cannot reach %s because %s is not world-searchable: "+
				"run from another directory, `chmod o+x %s`, or set DATABASE_URL", abs, p, p)
		}
		if p == "/" {
			break
		}
	}
	return os.Chown(abs, int(c.cred.Uid), int(c.cred.Gid))
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, name), args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	// Own process group: a terminal Ctrl-C reaches the parent, which stops the server in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred, Pdeathsig: syscall.SIGTERM, Setpgid: true}
	if c.owner != nil {
		cmd.Dir = "/"
		cmd.Env = append(cmd.Env, "HOME="+c.owner.HomeDir, "USER=postgres")
	}
	return cmd
}

// Start runs the server on 127.0.0.1:Port and waits until it accepts connections.
func (c *Cluster) Start(ctx context.Context) error {
	if err := c.prepare(); err != nil {
		return err
	}
	if c.Port == 0 {
		port, err := FreePort()
		if err != nil {
			return err
		}
		c.Port = port
	}
	if err := c.clearStalePid(); err != nil {
		return err
	}
	args := []string{"-D", c.Dir, "-p", strconv.Itoa(c.Port),
		// TCP on loopback only: no Unix socket, whose path length limit deep directories exceed.
		"-c", "unix_socket_directories=", "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"}
	if !c.Durable {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	var output bytes.Buffer
	cmd := c.command(context.WithoutCancel(ctx), "postgres", args...)
	cmd.Stdout, cmd.Stderr = &output, &output
	if c.Log != nil {
		cmd.Stdout, cmd.Stderr = io.MultiWriter(&output, c.Log), io.MultiWriter(&output, c.Log)
	}
	// Pdeathsig fires when the forking thread exits: keep it alive for the child's lifetime.
	runtime.LockOSThread()
	err := cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.cmd = cmd
	c.exited = make(chan error, 1)
	go func() { c.exited <- cmd.Wait() }()

	deadline := time.Now().Add(60 * time.Second)
	for {
		conn, err := pgx.Connect(ctx, c.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case werr := <-c.exited:
			c.exited <- werr
			return fmt.Errorf("postgres exited during start-up (%v):\n%s", werr, tail(output.String(), 2000))
		case <-ctx.Done():
			_ = c.Stop()
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = c.Stop()
			return fmt.Errorf("postgres did not accept connections within 60s: %v\n%s", err, tail(output.String(), 2000))
		}
	}
}

// clearStalePid removes the pid file of a server that died with its parent (kill -9).
func (c *Cluster) clearStalePid() error {
	pidFile := filepath.Join(c.Dir, "postmaster.pid")
	body, err := os.ReadFile(pidFile)
	if err != nil {
		return nil
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(body), "\n", 2)[0]))
	if pid > 0 && syscall.Kill(pid, 0) == nil {
		return fmt.Errorf("a PostgreSQL server (pid %d) is already running on %s: stop it first", pid, c.Dir)
	}
	return os.Remove(pidFile)
}

// Stop shuts the server down (fast mode) and waits for it.
func (c *Cluster) Stop() error { return c.stop(syscall.SIGINT) }

// Crash stops the server in immediate mode: no shutdown checkpoint, so the next Start recovers
// from the write-ahead log, as after a crash (fault tests).
func (c *Cluster) Crash() error { return c.stop(syscall.SIGQUIT) }

func (c *Cluster) stop(sig syscall.Signal) error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	_ = c.cmd.Process.Signal(sig)
	select {
	case <-c.exited:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
	return nil
}

// URL is the DSN of database db on this cluster as the superuser.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// FreePort asks the kernel for an unused TCP port on 127.0.0.1.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PortFree reports whether nothing listens on 127.0.0.1:port.
func PortFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// CreateDatabase creates the named database on the cluster unless it exists.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}
