// Command localdev runs every Jingtong function in one process for local
// development. See the README for the routes and the JT_* variables.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/jingtong/backend/localdev"
	"github.com/jingtong/backend/shared/obs"
	"github.com/jingtong/backend/triggers"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	// JT_DATABASE_URL_FILE and the other _FILE forms of credentials work
	// as they do in the function binaries.
	lookup, err := triggers.WithSecretFiles(os.LookupEnv)
	if err != nil {
		return err
	}
	cfg, err := localdev.LoadConfig(lookup)
	if err != nil {
		return err
	}
	logger := obs.NewLogger(os.Stderr, cfg.LogLevel)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// Binding first means a busy port fails before any function, cron job
	// or queue consumer starts.
	ln, err := localdev.Listen(cfg)
	if err != nil {
		return err
	}
	srv, err := localdev.New(ctx, cfg, lookup, logger)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer srv.Close()

	tokenPath := cfg.OperatorTokenFile
	passwordPath := filepath.Join(cfg.DataDir, localdev.FaaSDir, localdev.BasicAuthPasswordFile)
	return srv.Serve(ctx, ln, func(addr string) {
		logger.Info("localdev listening", "addr", addr, "data_dir", cfg.DataDir)
		fmt.Fprintf(os.Stderr, "\n京通 localdev 已启动 / Jingtong localdev is up: http://%s\n"+
			"  公开入口（网关）/ public edge (gateway): http://%s/api/<function>/...\n"+
			"  网关公钥 / gateway keys:     http://%s/api/gateway/keys\n"+
			"  开发登录 / dev login:        POST http://%s/api/gateway/dev/login\n"+
			"  内部入口 / internal path:    http://%s/function/<function>/...\n"+
			"  运营令牌 / operator token:   %s\n"+
			"  OpenFaaS API:               faas-cli login -g http://%s -u %s --password-stdin < %s\n\n",
			addr, addr, addr, addr, addr, tokenPath, addr, localdev.BasicAuthUser, passwordPath)
	})
}
