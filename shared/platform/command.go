package platform

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"text/tabwriter"

	"github.com/smsconv/smsconv/shared/envconfig"
)

// Command is a service binary's command line. Every binary answers the same way: no argument (or serve)
// runs the service, -h/--help/help lists its environment variables with their defaults, version prints the
// version; neither of the last two reads the environment or starts anything.
type Command struct {
	// Name is the binary's name and Summary what it does, in one line.
	Name, Summary string
	// Version is the build's version (set with -ldflags).
	Version string
	// Defaults is the service's configuration holding its defaults; -h lists its variables.
	Defaults any
	// Subcommands are the binary's other commands (the worker's flow, the sandbox's say and keygen).
	Subcommands []Subcommand
	// Serve runs the service until ctx ends, configured from environ.
	Serve func(ctx context.Context, environ []string, stderr io.Writer) error
}

// Serve returns the Serve of a Command: load the configuration from environ, then run the service with it
// (logging to stderr), as every service does.
func Serve[C any](load func(environ []string) (C, error), run func(ctx context.Context, cfg C, version string, logOut io.Writer) error,
	version string) func(ctx context.Context, environ []string, stderr io.Writer) error {
	return func(ctx context.Context, environ []string, stderr io.Writer) error {
		cfg, err := load(environ)
		if err != nil {
			return err
		}
		return run(ctx, cfg, version, stderr)
	}
}

// Subcommand is a command besides serve, help and version.
type Subcommand struct {
	// Name is the first argument; Usage follows it in the help ("[flags] TEXT...  text our number ...").
	Name, Usage string
	Run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// Main runs the command as the process's main: with its arguments and environment, until SIGINT or SIGTERM,
// exiting with status 1 (the error on stderr, after the binary's name) when it fails.
func (c Command) Main() {
	tuneGC()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := c.Run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, c.Name+":", err)
		os.Exit(1)
	}
}

// Run dispatches args (without the program name).
func (c Command) Run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return c.Serve(ctx, environ, stderr)
	}
	switch args[0] {
	case "serve":
		if len(args) > 1 {
			return fmt.Errorf("serve takes no arguments (configure it with environment variables; %s -h lists them)", c.Name)
		}
		return c.Serve(ctx, environ, stderr)
	case "-h", "-help", "--help", "help":
		return c.Help(stdout)
	case "version", "-version", "--version":
		_, err := fmt.Fprintln(stdout, c.Version)
		return err
	}
	for _, s := range c.Subcommands {
		if s.Name == args[0] {
			return s.Run(ctx, args[1:], stdout, stderr)
		}
	}
	return fmt.Errorf("unknown command %q (%s -h lists the commands and variables)", args[0], c.Name)
}

// Help prints the commands and the environment variables with their defaults.
func (c Command) Help(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintf(tw, "%s %s: %s\n\nUsage:\n", c.Name, c.Version, c.Summary)
	fmt.Fprintf(tw, "  %s [serve]\trun the service, configured by the environment variables below\n", c.Name)
	for _, s := range c.Subcommands {
		fmt.Fprintf(tw, "  %s %s\n", c.Name, s.Usage)
	}
	fmt.Fprintf(tw, "  %s version\tprint the version\n", c.Name)
	fmt.Fprintf(tw, "  %s -h\tprint this help\n", c.Name)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(tw, "\nEnvironment variables:\n  VARIABLE\tDEFAULT\tMEANING\n")
	for _, v := range envconfig.Vars(c.Defaults) {
		def := v.Default
		if def == "" {
			def = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", v.Name, def, v.Desc)
	}
	return tw.Flush()
}

// DefaultGCPercent is the services' GOGC when the environment sets none. Their live heaps are small (tens of
// MB) and each message allocates a few tens of KB, so Go's default of 100 collects hundreds of times a second
// under load; 400 trades that for a few times more memory. GOGC (and GOMEMLIMIT) in the environment win.
const DefaultGCPercent = 400

func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(DefaultGCPercent)
	}
}
