package cli

import (
	"bytes"
	"os"
)

// resolveToken returns the cluster token of a command: --token, else the
// first line of --token-file, else $CREW_TOKEN unless the command
// authenticates otherwise (nkeys). A file or the environment keeps the
// secret out of the process list, which shows --token.
func resolveToken(token, file string, otherAuth bool) (string, error) {
	if token != "" && file != "" {
		return "", usagef("--token and --token-file cannot be combined")
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", usagef("--token-file: %v", err)
		}
		line, _, _ := bytes.Cut(b, []byte("\n"))
		token = string(bytes.TrimSpace(line))
		if token == "" {
			return "", usagef("--token-file %s: the first line is empty", file)
		}
		return token, nil
	}
	if token == "" && !otherAuth {
		token = os.Getenv(tokenEnv)
	}
	return token, nil
}
