package localdev

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"

	"github.com/openfaas/faas-provider/types"

	"github.com/jingtong/backend/shared/httpx"
)

// secretName is the form of a secret name: a Kubernetes DNS subdomain,
// which is what faas-netes accepts. It cannot be "." or "..", so a name is
// always one file in the secret directory.
var secretName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$`)

// secretStore keeps the secrets of the OpenFaaS API as files, one per
// secret, readable by the owner only, in dir/openfaas-fn/. Functions do
// not read them: localdev's functions read their secrets through JT_*
// variables.
type secretStore struct {
	dir string
	mu  sync.Mutex
}

func (st *secretStore) path(name string) string {
	return filepath.Join(st.dir, defaultNamespace, name)
}

func (st *secretStore) list() ([]string, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	entries, err := os.ReadDir(filepath.Join(st.dir, defaultNamespace))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		// Temporary files of writeFileAtomic start with a dot.
		if e.Type().IsRegular() && secretName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names, nil
}

func (st *secretStore) create(name string, value []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, err := os.Stat(st.path(name)); err == nil {
		return httpx.E(CodeSecretExists, name)
	}
	return writeFileAtomic(st.path(name), value)
}

func (st *secretStore) update(name string, value []byte) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, err := os.Stat(st.path(name)); errors.Is(err, fs.ErrNotExist) {
		return httpx.E(CodeSecretNotFound, name)
	}
	return writeFileAtomic(st.path(name), value)
}

func (st *secretStore) remove(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	err := os.Remove(st.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return httpx.E(CodeSecretNotFound, name)
	}
	return err
}

// handleSecrets serves /system/secrets: GET lists the secret names of a
// namespace without their values, POST creates a secret, PUT replaces its
// value and DELETE removes it. The body is a types.Secret, and rawValue,
// when set, wins over value.
func (s *Server) handleSecrets(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		s.listSecrets(w, r)
		return
	}

	var secret types.Secret
	if err := decodeRequest(r, &secret); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	if err := checkSecret(secret, r.Method != http.MethodDelete); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	value := secret.RawValue
	if len(value) == 0 {
		value = []byte(secret.Value)
	}

	var err error
	status := http.StatusOK
	switch r.Method {
	case http.MethodPost:
		err = s.faas.secrets.create(secret.Name, value)
		status = http.StatusCreated
	case http.MethodPut:
		err = s.faas.secrets.update(secret.Name, value)
	case http.MethodDelete:
		err = s.faas.secrets.remove(secret.Name)
	}
	if err != nil {
		var e *httpx.Error
		if !errors.As(err, &e) {
			err = fmt.Errorf("storing secret %s: %w", secret.Name, err)
		}
		httpx.WriteError(w, r, s.logger, err)
		return
	}
	s.logger.InfoContext(r.Context(), "changed a secret through the OpenFaaS API", "secret", secret.Name, "method", r.Method)
	w.WriteHeader(status)
}

func (s *Server) listSecrets(w http.ResponseWriter, r *http.Request) {
	if err := checkNamespace(r.URL.Query().Get("namespace")); err != nil {
		httpx.WriteError(w, r, nil, err)
		return
	}
	names, err := s.faas.secrets.list()
	if err != nil {
		httpx.WriteError(w, r, s.logger, fmt.Errorf("listing secrets: %w", err))
		return
	}
	out := make([]types.Secret, 0, len(names))
	for _, name := range names {
		out = append(out, types.Secret{Name: name, Namespace: defaultNamespace})
	}
	httpx.WriteJSON(w, http.StatusOK, out)
}

// checkSecret validates the name and namespace of secret, and that it has
// a value when needValue is set.
func checkSecret(secret types.Secret, needValue bool) error {
	if err := checkNamespace(secret.Namespace); err != nil {
		return err
	}
	var details []httpx.Detail
	switch {
	case secret.Name == "":
		details = append(details, required("/name"))
	case !secretName.MatchString(secret.Name):
		details = append(details, httpx.Detail{Path: "/name", Reason: "invalid_format",
			ZH: "应为小写字母、数字、- 和 . 组成的名称，以字母或数字开头和结尾，最长 253 个字符",
			EN: "must be lowercase letters, digits, - and ., start and end with a letter or digit, and be at most 253 characters"})
	}
	if needValue && secret.Value == "" && len(secret.RawValue) == 0 {
		details = append(details, httpx.Detail{Path: "/value", Reason: "required",
			ZH: "value 或 rawValue 必填其一", EN: "value or rawValue is required"})
	}
	if len(details) > 0 {
		return httpx.E(httpx.CodeInvalidRequest).WithDetails(details...)
	}
	return nil
}
