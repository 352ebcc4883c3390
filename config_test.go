package hogsend

import (
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func envOf(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := kv[k]
		return v, ok
	}
}

func validAPIEnv() map[string]string {
	return map[string]string{
		"DATABASE_URL":       "postgres://u@localhost:5432/db",
		"BETTER_AUTH_SECRET": strings.Repeat("s", 40),
		"RESEND_API_KEY":     "re_test",
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cfg, warnings, err := LoadConfig(envOf(validAPIEnv()), nil, RoleAPI)
	require.NoError(t, err)
	require.Empty(t, warnings)
	require.Equal(t, "development", cfg.Env)
	require.Equal(t, 3002, cfg.Port)
	require.Equal(t, slog.LevelInfo, cfg.LogLevel)
	require.Equal(t, "http://localhost:3002", cfg.PublicURL)
	require.Equal(t, "localhost:7233", cfg.Temporal.Address)
	require.Equal(t, "default", cfg.Temporal.Namespace)
	require.Equal(t, "hogsend", cfg.Temporal.TaskQueue)
	require.Equal(t, "none", cfg.Temporal.TLSStrategy, "loopback addresses default to plaintext")
	require.Equal(t, "noreply@hogsend.com", cfg.Email.From)
	require.Equal(t, 30, cfg.RateLimit.EmailsMax)
	require.True(t, cfg.EnabledJourneys.Allows("anything"))
	require.False(t, cfg.SkipSchemaCheck)
}

func TestConfigListsEveryProblemTogether(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"PORT":              "http",
		"LOG_LEVEL":         "verbose",
		"SKIP_SCHEMA_CHECK": "maybe",
		"API_PUBLIC_URL":    "not a url",
		"NODE_ENV":          "staging",
		"RESEND_FROM_EMAIL": "nobody",
	}
	_, _, err := LoadConfig(envOf(env), nil, RoleAPI)
	var cfgErr *ConfigError
	require.ErrorAs(t, err, &cfgErr)
	got := strings.Join(cfgErr.Problems, "\n")
	for _, name := range []string{"PORT", "LOG_LEVEL", "SKIP_SCHEMA_CHECK", "API_PUBLIC_URL", "NODE_ENV",
		"RESEND_FROM_EMAIL", "DATABASE_URL: required", "BETTER_AUTH_SECRET: required", "RESEND_API_KEY: required"} {
		require.Contains(t, got, name)
	}
	require.Len(t, cfgErr.Problems, 9)
}

func TestConfigRequirementsDependOnRole(t *testing.T) {
	t.Parallel()
	// migrate and keys need only the database.
	_, _, err := LoadConfig(envOf(map[string]string{"DATABASE_URL": "postgres://localhost/db"}), nil, RoleMigrate)
	require.NoError(t, err)
	// dev brings its own database, secret and mail sink.
	_, _, err = LoadConfig(envOf(map[string]string{}), nil, RoleDev)
	require.NoError(t, err)
	// the smtp provider needs SMTP_URL instead of a Resend key.
	env := validAPIEnv()
	delete(env, "RESEND_API_KEY")
	env["EMAIL_PROVIDER"] = "smtp"
	_, _, err = LoadConfig(envOf(env), nil, RoleWorker)
	require.ErrorContains(t, err, "SMTP_URL: required")
	env["SMTP_URL"] = "smtp://127.0.0.1:1025"
	_, _, err = LoadConfig(envOf(env), nil, RoleWorker)
	require.NoError(t, err)
	// mtls needs a certificate and key.
	env["TEMPORAL_TLS_STRATEGY"] = "mtls"
	_, _, err = LoadConfig(envOf(env), nil, RoleWorker)
	require.ErrorContains(t, err, "TEMPORAL_TLS_CERT: required")
	require.ErrorContains(t, err, "TEMPORAL_TLS_KEY: required")
}

func TestConfigBooleansAreStrict(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "false": false, "0": false, "no": false} {
		env := validAPIEnv()
		env["SKIP_SCHEMA_CHECK"] = raw
		cfg, _, err := LoadConfig(envOf(env), nil, RoleAPI)
		require.NoError(t, err, raw)
		require.Equal(t, want, cfg.SkipSchemaCheck, raw)
	}
}

func TestConfigEmptyStringIsUnset(t *testing.T) {
	t.Parallel()
	env := validAPIEnv()
	env["PORT"] = "  "
	env["BETTER_AUTH_SECRET"] = ""
	_, _, err := LoadConfig(envOf(env), nil, RoleAPI)
	require.ErrorContains(t, err, "BETTER_AUTH_SECRET: required")
	require.NotContains(t, err.Error(), "PORT")
}

func TestConfigRemoteTemporalDefaultsToTLS(t *testing.T) {
	t.Parallel()
	env := validAPIEnv()
	env["TEMPORAL_ADDRESS"] = "acme.tmprl.cloud:7233"
	cfg, _, err := LoadConfig(envOf(env), nil, RoleAPI)
	require.NoError(t, err)
	require.Equal(t, "tls", cfg.Temporal.TLSStrategy)
}

func TestConfigWarnings(t *testing.T) {
	t.Parallel()
	env := validAPIEnv()
	env["BETTER_AUTH_SECRET"] = "short"
	_, warnings, err := LoadConfig(envOf(env), []string{"HATCHET_CLIENT_TOKEN=x", "REDIS_URL=redis://", "PATH=/bin"}, RoleAPI)
	require.NoError(t, err)
	require.Len(t, warnings, 2)
	require.Contains(t, warnings[0], "shorter than 32")
	require.Equal(t, "ignored: HATCHET_CLIENT_TOKEN, REDIS_URL (Go engine uses TEMPORAL_* and no Redis)", warnings[1])
}

func TestConfigSecretsAreNotEchoed(t *testing.T) {
	t.Parallel()
	env := validAPIEnv()
	env["DATABASE_URL"] = "mysql://root:hunter2@db/x"
	_, _, err := LoadConfig(envOf(env), nil, RoleAPI)
	require.ErrorContains(t, err, "DATABASE_URL")
	require.NotContains(t, err.Error(), "hunter2")
}

func TestFilter(t *testing.T) {
	t.Parallel()
	require.True(t, ParseFilter(" * ").Allows("x"))
	f := ParseFilter(" welcome, ,trial-end ")
	require.True(t, f.Allows("welcome"))
	require.True(t, f.Allows("trial-end"))
	require.False(t, f.Allows("other"))
}

func TestTrustedOriginSetDedupes(t *testing.T) {
	t.Parallel()
	c := &Config{AuthURL: "http://localhost:3002", PublicURL: "http://localhost:3002/", TrustedOrigins: []string{"https://studio.example.com"}}
	require.Equal(t, []string{"http://localhost:3002", "https://studio.example.com"}, c.TrustedOriginSet())
}

func TestREADMEDocumentsEveryVariable(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	known := map[string]bool{}
	for _, v := range ConfigVars() {
		known[v.Name] = true
		require.Contains(t, string(readme), "| `"+v.Name+"` |", "README configuration table lacks %s", v.Name)
	}
	// And the table lists nothing the engine does not read.
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		require.True(t, known[m[1]], "README configuration table lists %s, which nothing reads", m[1])
	}
}
