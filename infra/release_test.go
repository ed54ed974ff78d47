package infra_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jingtong/backend/shared/store/storetest"
)

// Files that build or measure release binaries, relative to infra/.
const (
	makefile      = "../Makefile"
	dockerfile    = "Dockerfile"
	platformBench = "../localdev/bench/platform.sh"
)

// sqlitePackages are the import paths that only SQLite support links.
var sqlitePackages = []string{"modernc.org/sqlite", "github.com/uptrace/bun/dialect/sqlitedialect"}

// makeVariable returns the value of a simple assignment (NAME := value) in
// the Makefile.
func makeVariable(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatalf("reading %s: %v", makefile, err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s*:=\s*(.*)$`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("%s has no %s := line", makefile, name)
	}
	return strings.TrimSpace(string(m[1]))
}

// makeRecipe returns the recipe of target with continuation lines joined.
func makeRecipe(t *testing.T, target string) string {
	t.Helper()
	data, err := os.ReadFile(makefile)
	if err != nil {
		t.Fatalf("reading %s: %v", makefile, err)
	}
	var recipe []string
	inTarget := false
	for line := range strings.Lines(string(data)) {
		switch {
		case strings.HasPrefix(line, target+":"):
			inTarget = true
		case inTarget && strings.HasPrefix(line, "\t"):
			recipe = append(recipe, strings.TrimSpace(strings.TrimSuffix(strings.TrimRight(line, "\n"), "\\")))
		case inTarget:
			return strings.Join(recipe, " ")
		}
	}
	if !inTarget {
		t.Fatalf("%s has no %s target", makefile, target)
	}
	return strings.Join(recipe, " ")
}

// releaseTags returns the build tags of release builds, RELEASE_TAGS in the
// Makefile.
func releaseTags(t *testing.T) string {
	t.Helper()
	tags := makeVariable(t, "RELEASE_TAGS")
	if !strings.Contains(" "+tags+" ", " jt_nosqlite ") {
		t.Fatalf("RELEASE_TAGS = %q, want it to contain jt_nosqlite", tags)
	}
	return tags
}

func TestReleaseBuildsShareFlags(t *testing.T) {
	tags := releaseTags(t)
	ldflags := makeVariable(t, "LDFLAGS")
	if want := "-trimpath -tags '$(RELEASE_TAGS)' -ldflags '$(LDFLAGS)'"; makeVariable(t, "RELEASE_FLAGS") != want {
		t.Errorf("RELEASE_FLAGS = %q, want %q", makeVariable(t, "RELEASE_FLAGS"), want)
	}

	for _, target := range []string{"build", "cross", "package-scf"} {
		recipe := makeRecipe(t, target)
		if !strings.Contains(recipe, "build $(RELEASE_FLAGS) -o") {
			t.Errorf("make %s builds the functions without $(RELEASE_FLAGS): %s", target, recipe)
		}
	}
	lambda := makeRecipe(t, "package-lambda")
	if !strings.Contains(lambda, "build -trimpath -tags '$(RELEASE_TAGS) lambda.norpc' -ldflags '$(LDFLAGS)'") {
		t.Errorf("make package-lambda does not build with the release tags and flags: %s", lambda)
	}

	data, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatalf("reading %s: %v", dockerfile, err)
	}
	wantBuild := `go build -trimpath -tags "` + tags + `" -ldflags "` + ldflags + `"`
	if !bytes.Contains(data, []byte(wantBuild)) {
		t.Errorf("%s does not build with the release flags %s", dockerfile, wantBuild)
	}

	bench, err := os.ReadFile(platformBench)
	if err != nil {
		t.Fatalf("reading %s: %v", platformBench, err)
	}
	if !bytes.Contains(bench, []byte("make build BIN=")) {
		t.Errorf("%s does not measure the binaries of make build", platformBench)
	}
}

// goCommand returns a go command run from the repository root, or skips
// the test when go is not on PATH.
func goCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go is not on PATH: %v", err)
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd
}

// dependencies returns the packages that pkg links with the given tags.
func dependencies(t *testing.T, tags, pkg string) []string {
	t.Helper()
	out, err := goCommand(t, "list", "-deps", "-tags", tags, pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps -tags %q %s: %v", tags, pkg, err)
	}
	return strings.Fields(string(out))
}

func linksSQLite(deps []string) bool {
	for _, dep := range deps {
		for _, p := range sqlitePackages {
			if dep == p || strings.HasPrefix(dep, p+"/") {
				return true
			}
		}
	}
	return false
}

func TestReleaseBuildsLeaveSQLiteOut(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	tags := releaseTags(t)

	for _, name := range commandNames(t) {
		if linksSQLite(dependencies(t, tags, "./functions/"+name+"/cmd/"+name)) {
			t.Errorf("the release build of %s links SQLite (one of %v)", name, sqlitePackages)
		}
	}
	// localdev and the default build keep SQLite, which also shows that the
	// check above can see it.
	if !linksSQLite(dependencies(t, "", "./localdev/cmd/localdev")) {
		t.Errorf("localdev does not link SQLite (%v), but it needs it for its embedded default", sqlitePackages)
	}
}

// buildRelease builds the named function with the release tags into a
// temporary directory and returns the binary's path.
func buildRelease(t *testing.T, name string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), name)
	cmd := goCommand(t, "build", "-trimpath", "-tags", releaseTags(t), "-o", bin, "./functions/"+name+"/cmd/"+name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the release %s: %v\n%s", name, err, out)
	}
	return bin
}

// runBinary runs bin with args and exactly the environment env, and returns
// its combined output and exit code. It fails the test when bin runs for
// longer than a minute.
func runBinary(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// A nil Env would inherit the test's environment, JT_* variables too.
	cmd.Env = append([]string{}, env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not exit within a minute", filepath.Base(bin), args)
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exitErr):
		return string(out), exitErr.ExitCode()
	}
	t.Fatalf("running %s %v: %v", filepath.Base(bin), args, err)
	return "", 0
}

func TestReleaseBinaryRejectsSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binaries; skipped with -short")
	}
	zonesBin := buildRelease(t, "zones")
	gatewayBin := buildRelease(t, "gateway")

	dataDir := t.TempDir()
	sqliteFile := filepath.Join(dataDir, "zones.db")
	auditKey := filepath.Join(t.TempDir(), "audit-key")
	if err := os.WriteFile(auditKey, []byte(strings.Repeat("a5", 32)), 0o600); err != nil {
		t.Fatalf("writing the audit key: %v", err)
	}
	tests := []struct {
		name string
		bin  string
		args []string
		env  []string
		want string
	}{
		{
			name: "zones serve without JT_DATABASE_URL",
			bin:  zonesBin,
			env:  []string{"JT_DATA_DIR=" + dataDir, "JT_PLATFORM=http", "JT_HTTP_ADDR=127.0.0.1:0"},
			want: "JT_DATABASE_URL is not set, and this binary was built without SQLite (build tag jt_nosqlite)",
		},
		{
			name: "zones migrate with a SQLite URL",
			bin:  zonesBin,
			args: []string{"migrate"},
			env:  []string{"JT_DATA_DIR=" + dataDir, "JT_DATABASE_URL=sqlite:" + sqliteFile},
			want: `JT_DATABASE_URL \"sqlite:` + sqliteFile + `\" is not a postgres:// or postgresql:// URL`,
		},
		{
			name: "gateway audit-verify with a SQLite path",
			bin:  gatewayBin,
			args: []string{"audit-verify", "-database-url", sqliteFile, "-key-file", auditKey},
			want: "store: SQLite is not built into this binary (build tag jt_nosqlite)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := runBinary(t, tt.bin, tt.env, tt.args...)
			if code != 1 {
				t.Errorf("exit code = %d, want 1; output:\n%s", code, out)
			}
			if !strings.Contains(out, tt.want) {
				t.Errorf("output does not contain %q:\n%s", tt.want, out)
			}
		})
	}

	entries, err := os.ReadDir(dataDir)
	if err != nil {
		t.Fatalf("reading %s: %v", dataDir, err)
	}
	for _, e := range entries {
		t.Errorf("%s contains %s, want the SQLite database never created", dataDir, e.Name())
	}
}

// freeLoopbackAddr returns a loopback address with a port that was free a
// moment ago.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen on loopback: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("close listener: %v", err)
	}
	return addr
}

func TestReleaseBinaryServesFromPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binaries; skipped with -short")
	}
	dsn := storetest.PostgresDSN(t)
	bin := buildRelease(t, "zones")
	env := []string{"JT_DATABASE_URL=" + dsn, "JT_DATA_DIR=" + t.TempDir(), "JT_PLATFORM=http", "JT_LOG_LEVEL=warn"}

	if out, code := runBinary(t, bin, env, "migrate"); code != 0 {
		t.Fatalf("zones migrate exit code = %d, want 0; output:\n%s", code, out)
	}

	addr := freeLoopbackAddr(t)
	var output bytes.Buffer
	cmd := exec.Command(bin)
	cmd.Env = append(env, "JT_HTTP_ADDR="+addr)
	cmd.Stdout = &output
	cmd.Stderr = &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting zones: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})

	url := "http://" + addr + "/zones?channel=wechat"
	client := &http.Client{Timeout: time.Second}
	var status string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := client.Get(url)
		if err != nil {
			status = err.Error()
			continue
		}
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return
		}
		status = resp.Status
	}

	// Stop the process first, so that reading its output does not race
	// with the copying.
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	t.Fatalf("GET %s returned no 200 within 30s (last: %s); output:\n%s", url, status, output.String())
}
