// Package devstack starts the services `hogsend dev` runs on one machine — the Temporal dev
// server, a private PostgreSQL cluster and Mailpit — each in its own process group, logged
// into the state directory and stopped in reverse order.
package devstack

import (
	"fmt"
	"os"

	"github.com/goccy/go-yaml"
)

// Settings is temporal-dev.yml.
type Settings struct {
	Temporal struct {
		Namespace        string            `yaml:"namespace"`
		IP               string            `yaml:"ip"`
		Port             int               `yaml:"port"`
		UIPort           int               `yaml:"uiPort"`
		DBFile           string            `yaml:"dbFile"`
		LogLevel         string            `yaml:"logLevel"`
		SearchAttributes map[string]string `yaml:"searchAttributes"`
		DynamicConfig    map[string]any    `yaml:"dynamicConfig"`
	} `yaml:"temporal"`
	Postgres struct {
		Port     int    `yaml:"port"`
		Database string `yaml:"database"`
	} `yaml:"postgres"`
	Mailpit struct {
		SMTPPort int    `yaml:"smtpPort"`
		HTTPPort int    `yaml:"httpPort"`
		DBFile   string `yaml:"dbFile"`
	} `yaml:"mailpit"`
	API struct {
		Port int `yaml:"port"`
	} `yaml:"api"`
}

// LoadSettings reads ./temporal-dev.yml, else builtin (the copy built into the binary, for a
// `dev` run outside the repository). It returns where the settings came from.
func LoadSettings(builtin []byte) (*Settings, string, error) {
	body, source := builtin, "built-in temporal-dev.yml"
	if b, err := os.ReadFile("temporal-dev.yml"); err == nil {
		body, source = b, "temporal-dev.yml"
	}
	var s Settings
	if err := yaml.UnmarshalWithOptions(body, &s, yaml.Strict()); err != nil {
		return nil, source, fmt.Errorf("%s: %w", source, err)
	}
	return &s, source, nil
}
