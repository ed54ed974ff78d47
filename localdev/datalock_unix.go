//go:build unix

package localdev

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// dataLockFile is the file in the data directory that a running localdev
// holds an exclusive lock on.
const dataLockFile = ".lock"

// lockDataDir takes an exclusive lock on dir, so that two localdev
// instances never share one data directory: both would run the cron jobs,
// keep separate queues and caches, and overwrite each other's OpenFaaS
// settings. The kernel releases the lock when the process ends, however
// it ends. Close the returned file to release it earlier.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, dataLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("localdev: opening the data directory lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("localdev: another localdev is using the data directory %s (另一个 localdev 正在使用该数据目录); stop it, or set JT_DATA_DIR to another directory", dir)
		}
		return nil, fmt.Errorf("localdev: locking the data directory %s: %w", dir, err)
	}
	return f, nil
}
