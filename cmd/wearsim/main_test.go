package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runWearsim(args ...string) (code int, stdout, stderr string) {
	var out, errOut strings.Builder
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"--help prints the usage", []string{"--help"}, []string{"wearsim provision", "wearsim run", "wearsim load"}},
		{"-h prints the usage", []string{"-h"}, []string{"wearsim provision", "wearsim run", "wearsim load"}},
		{"help prints the usage", []string{"help"}, []string{"wearsim provision", "wearsim run", "wearsim load"}},
		{"a command's -h prints its flags", []string{"run", "-h"}, []string{"Usage of wearsim run:", "-broker", "-accel"}},
		{"a command's --help prints its flags", []string{"load", "--help"}, []string{"Usage of wearsim load:", "-batch", "-window"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runWearsim(tc.args...)
			require.Equal(t, 0, code, stderr)
			require.Empty(t, stderr, "asked for, the help goes to stdout")
			for _, w := range tc.want {
				require.Contains(t, stdout, w)
			}
		})
	}
}

func TestABadCommandLineExitsTwoWithTheUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no command", nil, "wearsim provision"},
		{"an unknown command", []string{"fly"}, `unknown command "fly"`},
		{"an unknown flag", []string{"run", "--wings"}, "flag provided but not defined: -wings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runWearsim(tc.args...)
			require.Equal(t, 2, code)
			require.Empty(t, stdout)
			require.Contains(t, stderr, tc.want)
		})
	}
}
