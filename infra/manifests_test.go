package infra_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"go.yaml.in/yaml/v4"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/functions/zones"
	"github.com/jingtong/backend/shared/fn"
	"github.com/jingtong/backend/shared/smcrypto"
	"github.com/jingtong/backend/shared/store/storetest"
	"github.com/jingtong/backend/triggers"
	"github.com/jingtong/backend/triggers/cron"
	"github.com/jingtong/backend/triggers/httpserver"
	"github.com/jingtong/backend/triggers/queue"
)

// Deployment conventions that every manifest follows.
const (
	imageRepository  = "jingtong/"
	namespace        = "jingtong"
	openfaasSecrets  = "/var/openfaas/secrets/"
	cronTimezone     = "Asia/Shanghai"
	publicFunction   = gateway.Name
	visibilityLabel  = "networking.knative.dev/visibility"
	clusterLocal     = "cluster-local"
	cronPathPrefix   = cron.PathPrefix
	eventTypePrefix  = queue.DefaultTypePrefix
	secretsListFile  = "k8s/secrets.yaml"
	migrateJobsFile  = "k8s/migrate.yaml"
	stackFile        = "openfaas/stack.yml"
	cronFunctionKind = "cron-function"
)

// builders builds each deployable function with test settings, keyed by the
// directory name under functions/. A new function needs an entry here, and
// TestFunctionsHaveBuilders fails until it has one.
var builders = map[string]func(t *testing.T, env *fn.Env) (*fn.Function, error){
	"zones": func(_ *testing.T, env *fn.Env) (*fn.Function, error) {
		return zones.New(context.Background(), env)
	},
	"gateway": func(t *testing.T, env *fn.Env) (*fn.Function, error) {
		keyDir := t.TempDir()
		if _, err := smcrypto.EnsureKeyFile(keyDir, gateway.DefaultSigningKID, nil); err != nil {
			return nil, err
		}
		vars := map[string]string{
			"JT_GATEWAY_KEY_DIR": keyDir,
			"JT_IDENTITY_SECRET": strings.Repeat("3f", 32),
			"JT_AUDIT_KEY":       strings.Repeat("a5", 32),
			"JT_AUDIT_REPLICA":   "test",
		}
		env.Lookup = mapLookup(vars)
		// gateway.New requires upstream URLs for every route, so the test
		// builds it with the default route table and a stand-in zones
		// handler. Both declare the same name, jobs and consumers.
		g, err := gateway.Build(context.Background(), env, map[string]http.Handler{zones.Name: http.NotFoundHandler()})
		if err != nil {
			return nil, err
		}
		return g.Function(), nil
	},
}

func mapLookup(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

// commandNames returns the function names that have a command at
// functions/<name>/cmd/<name>.
func commandNames(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob("../functions/*/cmd/*")
	if err != nil {
		t.Fatalf("listing function commands: %v", err)
	}
	var names []string
	for _, dir := range dirs {
		name := filepath.Base(dir)
		if filepath.Base(filepath.Dir(filepath.Dir(dir))) == name {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		t.Fatal("found no functions/<name>/cmd/<name> directory")
	}
	slices.Sort(names)
	return names
}

// buildFunctions builds every deployable function over its own SQLite
// database and returns them by name.
func buildFunctions(t *testing.T) map[string]*fn.Function {
	t.Helper()
	out := map[string]*fn.Function{}
	for _, name := range commandNames(t) {
		build, ok := builders[name]
		if !ok {
			t.Fatalf("function %s has no entry in builders", name)
		}
		db := storetest.OpenSQLite(t)
		env := &fn.Env{
			Lookup: mapLookup(nil),
			Logger: slog.New(slog.DiscardHandler),
			Now:    time.Now,
			OpenDB: func(context.Context) (*bun.DB, error) { return db, nil },
		}
		f, err := build(t, env)
		if err != nil {
			t.Fatalf("building %s: %v", name, err)
		}
		if f.Close != nil {
			t.Cleanup(func() {
				if err := f.Close(); err != nil {
					t.Errorf("closing %s: %v", name, err)
				}
			})
		}
		if f.Name != name {
			t.Fatalf("function in functions/%s is named %q, want %q", name, f.Name, name)
		}
		out[name] = f
	}
	return out
}

// Manifest shapes. Decoding ignores fields that the checks do not read.
type (
	stack struct {
		Version  string `yaml:"version"`
		Provider struct {
			Name string `yaml:"name"`
		} `yaml:"provider"`
		Functions map[string]stackFunction `yaml:"functions"`
	}
	stackFunction struct {
		Image       string            `yaml:"image"`
		SkipBuild   bool              `yaml:"skip_build"`
		Environment map[string]string `yaml:"environment"`
		Secrets     []string          `yaml:"secrets"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
		Limits      map[string]string `yaml:"limits"`
	}
	funcYAML struct {
		SpecVersion string         `yaml:"specVersion"`
		Name        string         `yaml:"name"`
		Runtime     string         `yaml:"runtime"`
		Image       string         `yaml:"image"`
		Build       map[string]any `yaml:"build"`
		Run         struct {
			Envs    []envVar `yaml:"envs"`
			Volumes []struct {
				Secret string `yaml:"secret"`
				Path   string `yaml:"path"`
			} `yaml:"volumes"`
		} `yaml:"run"`
		Deploy struct {
			Namespace string `yaml:"namespace"`
			Image     string `yaml:"image"`
			Labels    []struct {
				Key   string `yaml:"key"`
				Value string `yaml:"value"`
			} `yaml:"labels"`
		} `yaml:"deploy"`
	}
	envVar struct {
		Name  string `yaml:"name"`
		Value string `yaml:"value"`
	}
	reference struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Name       string `yaml:"name"`
	}
	destination struct {
		Ref reference `yaml:"ref"`
		URI string    `yaml:"uri"`
	}
	container struct {
		Name         string   `yaml:"name"`
		Image        string   `yaml:"image"`
		Args         []string `yaml:"args"`
		Env          []envVar `yaml:"env"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	podSpec struct {
		TimeoutSeconds int         `yaml:"timeoutSeconds"`
		Containers     []container `yaml:"containers"`
		Volumes        []struct {
			Name   string `yaml:"name"`
			Secret *struct {
				SecretName string `yaml:"secretName"`
			} `yaml:"secret"`
		} `yaml:"volumes"`
	}
	object struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
		Metadata   struct {
			Name      string            `yaml:"name"`
			Namespace string            `yaml:"namespace"`
			Labels    map[string]string `yaml:"labels"`
		} `yaml:"metadata"`
		Spec struct {
			Template struct {
				Spec podSpec `yaml:"spec"`
			} `yaml:"template"`
			// PingSource
			Schedule string      `yaml:"schedule"`
			Timezone string      `yaml:"timezone"`
			Sink     destination `yaml:"sink"`
			// Trigger
			Broker string `yaml:"broker"`
			Filter struct {
				Attributes map[string]string `yaml:"attributes"`
			} `yaml:"filter"`
			Subscriber destination `yaml:"subscriber"`
		} `yaml:"spec"`
		Data       map[string]any `yaml:"data"`
		StringData map[string]any `yaml:"stringData"`
	}
)

// manifestFiles returns every YAML file under infra/, relative to it.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("listing manifests: %v", err)
	}
	return files
}

// decodeAll decodes every YAML document in path into values of type T,
// skipping empty documents.
func decodeAll[T any](t *testing.T, path string) []T {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var out []T
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("parsing %s: %v", path, err)
		}
		if node.Kind == 0 || (len(node.Content) == 1 && node.Content[0].Tag == "!!null") {
			continue
		}
		var v T
		if err := node.Decode(&v); err != nil {
			t.Fatalf("decoding %s: %v", path, err)
		}
		out = append(out, v)
	}
}

func decodeOne[T any](t *testing.T, path string) T {
	t.Helper()
	docs := decodeAll[T](t, path)
	if len(docs) != 1 {
		t.Fatalf("%s has %d YAML documents, want 1", path, len(docs))
	}
	return docs[0]
}

func loadStack(t *testing.T) stack {
	t.Helper()
	s := decodeOne[stack](t, stackFile)
	if s.Provider.Name != "openfaas" {
		t.Fatalf("%s: provider.name = %q, want openfaas", stackFile, s.Provider.Name)
	}
	if s.Version != "1.0" {
		t.Fatalf("%s: version = %q, want 1.0", stackFile, s.Version)
	}
	return s
}

// knativeObjects returns the objects of kind in infra/knative/<function>/.
func knativeObjects(t *testing.T, function, kind string) map[string]object {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("knative", function, "*.yaml"))
	if err != nil {
		t.Fatalf("listing knative/%s: %v", function, err)
	}
	out := map[string]object{}
	for _, path := range paths {
		if filepath.Base(path) == "func.yaml" {
			continue
		}
		for _, o := range decodeAll[object](t, path) {
			if o.Kind == kind {
				out[o.Metadata.Name] = o
			}
		}
	}
	return out
}

func knativeService(t *testing.T, function string) object {
	t.Helper()
	services := knativeObjects(t, function, "Service")
	svc, ok := services[function]
	if !ok || len(services) != 1 {
		t.Fatalf("knative/%s: want exactly one Service named %s, found %d", function, function, len(services))
	}
	if len(svc.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("knative/%s Service has %d containers, want 1", function, len(svc.Spec.Template.Spec.Containers))
	}
	return svc
}

func migrateJob(t *testing.T, function string) object {
	t.Helper()
	for _, o := range decodeAll[object](t, migrateJobsFile) {
		if o.Kind == "Job" && o.Metadata.Name == function+"-migrate" {
			if len(o.Spec.Template.Spec.Containers) != 1 {
				t.Fatalf("%s: Job %s has %d containers, want 1", migrateJobsFile, o.Metadata.Name, len(o.Spec.Template.Spec.Containers))
			}
			return o
		}
	}
	t.Fatalf("%s has no Job %s-migrate", migrateJobsFile, function)
	return object{}
}

func envMap(vars []envVar) map[string]string {
	out := make(map[string]string, len(vars))
	for _, v := range vars {
		out[v.Name] = v.Value
	}
	return out
}

func imageFor(function string) string {
	return imageRepository + function + ":"
}

func TestFunctionsHaveBuilders(t *testing.T) {
	for _, name := range commandNames(t) {
		if _, ok := builders[name]; !ok {
			t.Errorf("function %s has no entry in builders", name)
		}
	}
}

func TestFunctionsHaveManifests(t *testing.T) {
	functions := buildFunctions(t)
	s := loadStack(t)
	var tags []string

	for name := range functions {
		entry, ok := s.Functions[name]
		if !ok {
			t.Errorf("%s has no entry for %s", stackFile, name)
		} else {
			tags = append(tags, entry.Image)
			if !strings.HasPrefix(entry.Image, imageFor(name)) {
				t.Errorf("%s: %s image = %q, want %s<tag>", stackFile, name, entry.Image, imageFor(name))
			}
			if !entry.SkipBuild {
				t.Errorf("%s: %s must set skip_build, because infra/Dockerfile builds the image", stackFile, name)
			}
			if entry.Limits["memory"] == "" || entry.Limits["cpu"] == "" {
				t.Errorf("%s: %s sets no memory or cpu limit", stackFile, name)
			}
			if entry.Labels["app.kubernetes.io/part-of"] != namespace {
				t.Errorf("%s: %s lacks the label app.kubernetes.io/part-of: %s", stackFile, name, namespace)
			}
		}

		fy := decodeOne[funcYAML](t, filepath.Join("knative", name, "func.yaml"))
		tags = append(tags, fy.Image, fy.Deploy.Image)
		if fy.Name != name || fy.Runtime != "go" || fy.SpecVersion == "" {
			t.Errorf("knative/%s/func.yaml: name %q, runtime %q, specVersion %q; want %s, go and a specVersion", name, fy.Name, fy.Runtime, fy.SpecVersion, name)
		}
		if fy.Build != nil {
			t.Errorf("knative/%s/func.yaml has a build section; it deploys the prebuilt image", name)
		}
		if fy.Deploy.Namespace != namespace {
			t.Errorf("knative/%s/func.yaml: deploy.namespace = %q, want %s", name, fy.Deploy.Namespace, namespace)
		}
		if fy.Image != fy.Deploy.Image || !strings.HasPrefix(fy.Image, imageFor(name)) {
			t.Errorf("knative/%s/func.yaml: image %q and deploy.image %q, want both %s<tag>", name, fy.Image, fy.Deploy.Image, imageFor(name))
		}

		svc := knativeService(t, name)
		c := svc.Spec.Template.Spec.Containers[0]
		tags = append(tags, c.Image)
		if svc.APIVersion != "serving.knative.dev/v1" {
			t.Errorf("knative/%s Service apiVersion = %q, want serving.knative.dev/v1", name, svc.APIVersion)
		}
		if svc.Metadata.Namespace != namespace {
			t.Errorf("knative/%s Service namespace = %q, want %s", name, svc.Metadata.Namespace, namespace)
		}
		if c.Image != fy.Image {
			t.Errorf("knative/%s Service image %q differs from func.yaml image %q", name, c.Image, fy.Image)
		}
		wantLocal := name != publicFunction
		if got := svc.Metadata.Labels[visibilityLabel] == clusterLocal; got != wantLocal {
			t.Errorf("knative/%s Service cluster-local = %v, want %v", name, got, wantLocal)
		}
		funcLocal := slices.ContainsFunc(fy.Deploy.Labels, func(l struct {
			Key   string `yaml:"key"`
			Value string `yaml:"value"`
		}) bool {
			return l.Key == visibilityLabel && l.Value == clusterLocal
		})
		if funcLocal != wantLocal {
			t.Errorf("knative/%s/func.yaml cluster-local label = %v, want %v", name, funcLocal, wantLocal)
		}
		for _, key := range envDiff(envMap(fy.Run.Envs), envMap(c.Env)) {
			t.Errorf("knative/%s: %s differs between func.yaml run.envs and the Service env", name, key)
		}

		job := migrateJob(t, name)
		jc := job.Spec.Template.Spec.Containers[0]
		tags = append(tags, jc.Image)
		if jc.Image != c.Image {
			t.Errorf("%s: %s-migrate image %q differs from the Service image %q", migrateJobsFile, name, jc.Image, c.Image)
		}
		if !slices.Equal(jc.Args, []string{"migrate"}) {
			t.Errorf("%s: %s-migrate args = %q, want [migrate]", migrateJobsFile, name, jc.Args)
		}
		serviceEnv := envMap(c.Env)
		for k, v := range envMap(jc.Env) {
			if serviceEnv[k] != v {
				t.Errorf("%s: %s-migrate sets %s=%q, but the Service sets %q", migrateJobsFile, name, k, v, serviceEnv[k])
			}
		}
		for k := range serviceEnv {
			if _, ok := envMap(jc.Env)[k]; !ok && !strings.HasPrefix(k, "JT_CRON_") && !strings.HasPrefix(k, "JT_HTTP_") {
				t.Errorf("%s: %s-migrate lacks %s, which the function reads when it is built", migrateJobsFile, name, k)
			}
		}

		stackEnv := entry.Environment
		for k := range serviceEnv {
			if _, ok := stackEnv[k]; !ok && !strings.HasPrefix(k, "JT_CRON_") {
				t.Errorf("%s: %s lacks %s, which its Knative Service sets", stackFile, name, k)
			}
		}
		for k := range stackEnv {
			if _, ok := serviceEnv[k]; !ok && strings.HasPrefix(k, "JT_") && !strings.HasPrefix(k, "JT_CRON_") {
				t.Errorf("knative/%s Service lacks %s, which %s sets", name, k, stackFile)
			}
		}
	}

	// One release tag for every image.
	for _, image := range tags {
		_, tag, _ := strings.Cut(image, ":")
		_, first, _ := strings.Cut(tags[0], ":")
		if tag == "" || tag != first {
			t.Errorf("image %q: want the tag %q that every manifest uses", image, first)
		}
	}
}

// envDiff returns the sorted variable names that a and b do not set to
// the same value.
func envDiff(a, b map[string]string) []string {
	var keys []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			keys = append(keys, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// effectiveSchedule returns the schedule that the function runs job on
// under env: the override variable when set, else the job's own.
func effectiveSchedule(function string, job fn.Job, env map[string]string) string {
	if v := strings.TrimSpace(env[cron.OverrideVar(function, job.Name)]); v != "" {
		return v
	}
	return job.Schedule
}

func TestCronJobsHavePlatformSchedules(t *testing.T) {
	functions := buildFunctions(t)
	s := loadStack(t)
	declared := map[string]bool{} // stack entry names of declared jobs

	for name, f := range functions {
		svc := knativeService(t, name)
		serviceEnv := envMap(svc.Spec.Template.Spec.Containers[0].Env)
		pings := knativeObjects(t, name, "PingSource")
		if len(f.Jobs) > 0 && !strings.Contains(serviceEnv[cron.SourcesVar], string(cron.SourcePingSource)) {
			t.Errorf("knative/%s Service: %s = %q, want it to list pingsource", name, cron.SourcesVar, serviceEnv[cron.SourcesVar])
		}

		for _, job := range f.Jobs {
			entryName := name + "-" + job.Name
			declared[entryName] = true

			entry, ok := s.Functions[entryName]
			if !ok {
				t.Errorf("%s has no cron-connector entry %s for job %s of %s", stackFile, entryName, job.Name, name)
			} else {
				want := effectiveSchedule(name, job, entry.Environment)
				if got := entry.Annotations["schedule"]; got != want {
					t.Errorf("%s: %s schedule = %q, want %q, the job's schedule", stackFile, entryName, got, want)
				}
				if got := entry.Annotations["topic"]; got != cronFunctionKind {
					t.Errorf("%s: %s topic = %q, want %s", stackFile, entryName, got, cronFunctionKind)
				}
				if got := entry.Environment[cron.SourcesVar]; got != string(cron.SourceCronConnector) {
					t.Errorf("%s: %s %s = %q, want cron-connector", stackFile, entryName, cron.SourcesVar, got)
				}
				if got := entry.Environment[cron.ConnectorJobVar]; got != job.Name {
					t.Errorf("%s: %s %s = %q, want %s", stackFile, entryName, cron.ConnectorJobVar, got, job.Name)
				}
				if main := s.Functions[name]; entry.Image != main.Image {
					t.Errorf("%s: %s image %q differs from %s image %q", stackFile, entryName, entry.Image, name, main.Image)
				}
				if tz := entry.Environment[cron.TimezoneVar]; tz != "" && tz != cronTimezone {
					t.Errorf("%s: %s %s = %q, want %s, the cron-connector's TZ", stackFile, entryName, cron.TimezoneVar, tz, cronTimezone)
				}
			}

			ping, ok := pings[entryName]
			if !ok {
				t.Errorf("knative/%s has no PingSource %s for job %s", name, entryName, job.Name)
				continue
			}
			if ping.APIVersion != "sources.knative.dev/v1" {
				t.Errorf("PingSource %s apiVersion = %q, want sources.knative.dev/v1", entryName, ping.APIVersion)
			}
			if want := effectiveSchedule(name, job, serviceEnv); ping.Spec.Schedule != want {
				t.Errorf("PingSource %s schedule = %q, want %q, the job's schedule", entryName, ping.Spec.Schedule, want)
			}
			if ping.Spec.Timezone != cronTimezone {
				t.Errorf("PingSource %s timezone = %q, want %s", entryName, ping.Spec.Timezone, cronTimezone)
			}
			if tz := serviceEnv[cron.TimezoneVar]; tz != "" && tz != ping.Spec.Timezone {
				t.Errorf("knative/%s Service %s = %q differs from the PingSource timezone %q", name, cron.TimezoneVar, tz, ping.Spec.Timezone)
			}
			wantRef := reference{APIVersion: "serving.knative.dev/v1", Kind: "Service", Name: name}
			if ping.Spec.Sink.Ref != wantRef {
				t.Errorf("PingSource %s sink.ref = %+v, want %+v", entryName, ping.Spec.Sink.Ref, wantRef)
			}
			if want := cronPathPrefix + job.Name; ping.Spec.Sink.URI != want {
				t.Errorf("PingSource %s sink.uri = %q, want %q", entryName, ping.Spec.Sink.URI, want)
			}
		}

		for pingName, ping := range pings {
			if !declared[pingName] {
				t.Errorf("PingSource %s (schedule %q) fires no job that %s declares", pingName, ping.Spec.Schedule, name)
			}
		}
	}

	for entryName, entry := range s.Functions {
		if entry.Annotations["topic"] == cronFunctionKind && !declared[entryName] {
			t.Errorf("%s: cron-connector entry %s runs no declared job", stackFile, entryName)
		}
		if _, ok := functions[entryName]; !ok && !declared[entryName] {
			t.Errorf("%s: entry %s is neither a function nor a cron job of one", stackFile, entryName)
		}
	}
}

func TestConsumersHaveTriggers(t *testing.T) {
	functions := buildFunctions(t)
	for name, f := range functions {
		brokerTriggers := knativeObjects(t, name, "Trigger")
		byType := map[string]object{}
		for _, tr := range brokerTriggers {
			byType[tr.Spec.Filter.Attributes["type"]] = tr
		}

		for _, c := range f.Consumers {
			eventType := eventTypePrefix + c.Subject
			tr, ok := byType[eventType]
			if !ok {
				t.Errorf("knative/%s has no Trigger for consumer %s (type %s)", name, c.Subject, eventType)
				continue
			}
			if tr.APIVersion != "eventing.knative.dev/v1" {
				t.Errorf("Trigger %s apiVersion = %q, want eventing.knative.dev/v1", tr.Metadata.Name, tr.APIVersion)
			}
			if tr.Spec.Subscriber.Ref.Kind != "Service" || tr.Spec.Subscriber.Ref.Name != name {
				t.Errorf("Trigger %s subscriber.ref = %+v, want the Service %s", tr.Metadata.Name, tr.Spec.Subscriber.Ref, name)
			}
			if tr.Spec.Subscriber.URI != triggers.EventsPath {
				t.Errorf("Trigger %s subscriber.uri = %q, want %q, where triggers.Main serves events", tr.Metadata.Name, tr.Spec.Subscriber.URI, triggers.EventsPath)
			}
		}
		for eventType, tr := range byType {
			subject := strings.TrimPrefix(eventType, eventTypePrefix)
			if !slices.ContainsFunc(f.Consumers, func(c fn.Consumer) bool { return c.Subject == subject }) {
				t.Errorf("Trigger %s filters type %q, which no consumer of %s handles", tr.Metadata.Name, eventType, name)
			}
		}
	}
}

// allEnvironments returns the environment of every stack.yml entry,
// func.yaml and container in infra/, keyed by where it is set.
func allEnvironments(t *testing.T) map[string]map[string]string {
	t.Helper()
	out := map[string]map[string]string{}
	for name, entry := range loadStack(t).Functions {
		out[stackFile+" "+name] = entry.Environment
	}
	for _, path := range manifestFiles(t) {
		if filepath.Base(path) == "func.yaml" {
			out[path] = envMap(decodeOne[funcYAML](t, path).Run.Envs)
			continue
		}
		if path == stackFile {
			continue
		}
		for _, o := range decodeAll[object](t, path) {
			for _, c := range o.Spec.Template.Spec.Containers {
				out[fmt.Sprintf("%s %s/%s", path, o.Kind, o.Metadata.Name)] = envMap(c.Env)
			}
		}
	}
	return out
}

// secretLike matches variable names that hold credentials when they hold
// a value rather than a file path.
var secretLike = regexp.MustCompile(`SECRET|TOKEN|PASSWORD|PASSWD|_KEY($|_)|CREDS|PRIVATE`)

// urlPassword matches a URL with a password in its user information.
var urlPassword = regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/\s:@]*:[^/\s@]+@`)

func TestManifestsHoldNoSecrets(t *testing.T) {
	notSecret := map[string]bool{"JT_GATEWAY_KEY_DIR": true, "JT_GATEWAY_SIGNING_KID": true}
	for where, env := range allEnvironments(t) {
		for k, v := range env {
			if secretLike.MatchString(k) && !strings.HasSuffix(k, "_FILE") && !notSecret[k] && k != "POSTGRES_PASSWORD_FILE" {
				t.Errorf("%s sets %s to a value; mount the secret and set %s_FILE", where, k, k)
			}
			if urlPassword.MatchString(v) {
				t.Errorf("%s: %s holds a URL with a password; use a password file", where, k)
			}
		}
	}

	for _, path := range manifestFiles(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("reading %s: %v", path, err)
		}
		if loc := urlPassword.FindIndex(data); loc != nil {
			t.Errorf("%s contains a URL with a password at byte %d", path, loc[0])
		}
		if path == stackFile || filepath.Base(path) == "func.yaml" {
			continue
		}
		for _, o := range decodeAll[object](t, path) {
			if o.Kind == "Secret" && (len(o.Data) > 0 || len(o.StringData) > 0) {
				t.Errorf("%s: Secret %s has values; create it with kubectl create secret instead", path, o.Metadata.Name)
			}
		}
	}
}

// documentedSecrets returns the names in the kubectl create secret commands
// of k8s/secrets.yaml.
func documentedSecrets(t *testing.T) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(secretsListFile)
	if err != nil {
		t.Fatalf("reading %s: %v", secretsListFile, err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile(`create secret generic ([a-z0-9.-]+)`).FindAllSubmatch(data, -1) {
		out[string(m[1])] = true
	}
	if len(out) == 0 {
		t.Fatalf("%s lists no kubectl create secret command", secretsListFile)
	}
	return out
}

func TestSecretFilesAreMounted(t *testing.T) {
	documented := documentedSecrets(t)

	for name, entry := range loadStack(t).Functions {
		for _, secret := range entry.Secrets {
			// gw-1.pem is a key of jt-gateway-keys on Kubernetes.
			if !documented[secret] && !strings.HasSuffix(secret, smcrypto.KeyFileExt) {
				t.Errorf("%s: %s uses secret %s, which %s does not list", stackFile, name, secret, secretsListFile)
			}
		}
		for k, v := range entry.Environment {
			if !strings.HasSuffix(k, "_FILE") && k != "PGPASSFILE" {
				continue
			}
			secret, ok := strings.CutPrefix(v, openfaasSecrets)
			if !ok || !slices.Contains(entry.Secrets, secret) {
				t.Errorf("%s: %s %s=%q is not a file of its secrets %v under %s", stackFile, name, k, v, entry.Secrets, openfaasSecrets)
			}
		}
	}

	for _, path := range manifestFiles(t) {
		if path == stackFile || filepath.Base(path) == "func.yaml" {
			continue
		}
		for _, o := range decodeAll[object](t, path) {
			spec := o.Spec.Template.Spec
			secretVolumes := map[string]string{} // volume name to Secret name
			for _, v := range spec.Volumes {
				if v.Secret != nil {
					secretVolumes[v.Name] = v.Secret.SecretName
					if !documented[v.Secret.SecretName] {
						t.Errorf("%s: %s mounts Secret %s, which %s does not list", path, o.Metadata.Name, v.Secret.SecretName, secretsListFile)
					}
				}
			}
			for _, c := range spec.Containers {
				for _, e := range c.Env {
					if !strings.HasSuffix(e.Name, "_FILE") && e.Name != "PGPASSFILE" {
						continue
					}
					mounted := slices.ContainsFunc(c.VolumeMounts, func(m struct {
						Name      string `yaml:"name"`
						MountPath string `yaml:"mountPath"`
						ReadOnly  bool   `yaml:"readOnly"`
					}) bool {
						return secretVolumes[m.Name] != "" && m.ReadOnly && strings.HasPrefix(e.Value, m.MountPath+"/")
					})
					if !mounted {
						t.Errorf("%s: %s %s=%q is not under a read-only Secret mount", path, o.Metadata.Name, e.Name, e.Value)
					}
				}
			}
		}
	}
}

// codeText returns the non-test Go source that reads the environment.
func codeText(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, dir := range []string{"../functions", "../triggers", "../shared"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			data, err := os.ReadFile(path)
			b.Write(data)
			return err
		})
		if err != nil {
			t.Fatalf("reading %s: %v", dir, err)
		}
	}
	return b.String()
}

// platformVars are variables read by software other than the functions:
// of-watchdog's timeouts, the PostgreSQL image and pgx's password file.
var platformVars = map[string]bool{
	"read_timeout": true, "write_timeout": true, "exec_timeout": true,
	"PGPASSFILE": true, "PGDATA": true,
	"POSTGRES_USER": true, "POSTGRES_DB": true, "POSTGRES_PASSWORD_FILE": true,
}

func TestEnvironmentNamesAreRead(t *testing.T) {
	functions := buildFunctions(t)
	code := codeText(t)
	overrides := map[string]bool{}
	for name, f := range functions {
		for _, job := range f.Jobs {
			overrides[cron.OverrideVar(name, job.Name)] = true
			overrides[cron.OverrideVar(name, job.Name)+"_TIMEOUT"] = true
		}
	}

	for where, env := range allEnvironments(t) {
		for k := range env {
			base := strings.TrimSuffix(k, "_FILE")
			switch {
			case platformVars[k], overrides[k]:
			case strings.Contains(code, `"`+k+`"`), strings.Contains(code, `"`+base+`"`):
			default:
				t.Errorf("%s sets %s, which no function, trigger or shared package reads", where, k)
			}
		}
	}
}

// duration parses env[key], or returns def when it is unset.
func duration(t *testing.T, where string, env map[string]string, key string, def time.Duration) time.Duration {
	t.Helper()
	v, ok := env[key]
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Errorf("%s: %s=%q is not a Go duration", where, key, v)
		return def
	}
	return d
}

func TestTimeoutsAreConsistent(t *testing.T) {
	functions := buildFunctions(t)
	s := loadStack(t)

	for entryName, entry := range s.Functions {
		where := stackFile + " " + entryName
		env := entry.Environment
		if _, err := httpserver.ConfigFromEnv(mapLookup(env)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		read := duration(t, where, env, "JT_HTTP_READ_TIMEOUT", httpserver.DefaultReadTimeout)
		write := duration(t, where, env, "JT_HTTP_WRITE_TIMEOUT", httpserver.DefaultWriteTimeout)
		for _, key := range []string{"read_timeout", "write_timeout", "exec_timeout"} {
			if _, ok := env[key]; !ok {
				t.Errorf("%s does not set %s", where, key)
			}
		}
		// of-watchdog defaults every timeout to 30s.
		watchdogRead := duration(t, where, env, "read_timeout", 30*time.Second)
		watchdogWrite := duration(t, where, env, "write_timeout", 30*time.Second)
		exec := duration(t, where, env, "exec_timeout", 30*time.Second)
		if watchdogRead < read {
			t.Errorf("%s: read_timeout %s is shorter than JT_HTTP_READ_TIMEOUT %s", where, watchdogRead, read)
		}
		if exec < write {
			t.Errorf("%s: exec_timeout %s is shorter than JT_HTTP_WRITE_TIMEOUT %s", where, exec, write)
		}
		if watchdogWrite < exec {
			t.Errorf("%s: write_timeout %s is shorter than exec_timeout %s", where, watchdogWrite, exec)
		}
		if job := env[cron.ConnectorJobVar]; job != "" {
			function := strings.TrimSuffix(entryName, "-"+job)
			override := cron.OverrideVar(function, job) + "_TIMEOUT"
			run := duration(t, where, env, override, duration(t, where, env, cron.TimeoutVar, cron.DefaultTimeout))
			if write <= run {
				t.Errorf("%s: JT_HTTP_WRITE_TIMEOUT %s does not exceed the job's run timeout %s", where, write, run)
			}
		}
	}

	for name, f := range functions {
		svc := knativeService(t, name)
		where := "knative/" + name + " Service"
		env := envMap(svc.Spec.Template.Spec.Containers[0].Env)
		if _, err := httpserver.ConfigFromEnv(mapLookup(env)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		write := duration(t, where, env, "JT_HTTP_WRITE_TIMEOUT", httpserver.DefaultWriteTimeout)
		request := time.Duration(svc.Spec.Template.Spec.TimeoutSeconds) * time.Second
		if request < write {
			t.Errorf("%s: timeoutSeconds %s is shorter than JT_HTTP_WRITE_TIMEOUT %s", where, request, write)
		}
		for _, job := range f.Jobs {
			run := duration(t, where, env, cron.OverrideVar(name, job.Name)+"_TIMEOUT", duration(t, where, env, cron.TimeoutVar, cron.DefaultTimeout))
			if write <= run {
				t.Errorf("%s: JT_HTTP_WRITE_TIMEOUT %s does not exceed the run timeout %s of job %s", where, write, run, job.Name)
			}
		}
	}
}

func TestZonesSettingsAreValid(t *testing.T) {
	envs := map[string]map[string]string{
		"knative/zones Service": envMap(knativeService(t, zones.Name).Spec.Template.Spec.Containers[0].Env),
	}
	for entryName, entry := range loadStack(t).Functions {
		if entryName == zones.Name || strings.HasPrefix(entryName, zones.Name+"-") {
			envs[stackFile+" "+entryName] = entry.Environment
		}
	}
	for where, env := range envs {
		if _, err := zones.LoadConfig(mapLookup(env)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
		if _, err := queue.ConfigFromEnv(mapLookup(env)); err != nil {
			t.Errorf("%s: %v", where, err)
		}
	}
}
