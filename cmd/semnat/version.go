package main

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/semnat/semnat/internal/osslrsa"
)

// version is set at build time with -ldflags "-X main.version=..."; otherwise
// the module version or VCS revision from the build info is used.
var version = ""

// revision is the VCS commit, set with -ldflags "-X main.revision=..." by
// make build (GOFLAGS=-buildvcs=false leaves the build info without it).
var revision = ""

type versionInfo struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"revision_time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
	Platform  string `json:"platform"`
	// RSA says what makes the services' RSA signatures: "libcrypto"
	// (OpenSSL 3, see internal/osslrsa) or "crypto/rsa (why)".
	RSA string `json:"rsa"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: version, Revision: revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH, RSA: "libcrypto"}
	if ok, why := osslrsa.Available(); !ok {
		v.RSA = "crypto/rsa (" + why + ")"
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v.Version == "" {
			v.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Revision == "" {
					v.Revision = s.Value
				}
			case "vcs.time":
				v.Time = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	if v.Version == "" || v.Version == "(devel)" {
		v.Version = "dev"
		if v.Revision != "" {
			v.Version = "dev-" + v.Revision[:min(12, len(v.Revision))]
		}
	}
	return v
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of semnat",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			if a.json {
				return a.printJSON(v)
			}
			a.say("semnat %s (%s, %s)\n", v.Version, v.GoVersion, v.Platform)
			if v.Revision != "" {
				var more []string
				if v.Time != "" {
					more = append(more, v.Time)
				}
				if v.Modified {
					more = append(more, "modified")
				}
				if len(more) > 0 {
					a.say("revision %s (%s)\n", v.Revision, strings.Join(more, ", "))
				} else {
					a.say("revision %s\n", v.Revision)
				}
			}
			a.say("RSA signatures: %s\n", v.RSA)
			return nil
		},
	}
}
