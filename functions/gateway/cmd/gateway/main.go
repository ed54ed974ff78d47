// Command gateway is the deployable gateway function. It picks its
// platform (plain HTTP, Knative, OpenFaaS, AWS Lambda or Tencent SCF) from
// the environment. `gateway migrate` applies its database migrations and
// exits, and `gateway audit-verify -database-url … -key-file …` checks the
// audit chains and exits with status 1 when one is broken.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/jingtong/backend/functions/gateway"
	"github.com/jingtong/backend/functions/gateway/audit"
	"github.com/jingtong/backend/triggers"
)

// auditVerifyCommand is the argument that runs audit.VerifyCommand.
const auditVerifyCommand = "audit-verify"

func main() {
	if len(os.Args) > 1 && os.Args[1] == auditVerifyCommand {
		os.Exit(verifyAudit(os.Args[2:]))
	}
	triggers.Main(gateway.New)
}

// verifyAudit runs the audit-verify command and returns the exit status:
// 0 when every chain verifies or help was asked for, 1 otherwise.
func verifyAudit(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	err := audit.VerifyCommand(ctx, args, os.Stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, audit.ErrBroken):
		// The report on stdout names the broken links.
		return 1
	}
	fmt.Fprintf(os.Stderr, "gateway %s: %v\n", auditVerifyCommand, err)
	return 1
}
