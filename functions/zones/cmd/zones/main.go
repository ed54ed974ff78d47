// Command zones is the deployable zones function. It picks its platform
// (plain HTTP, Knative, OpenFaaS, AWS Lambda or Tencent SCF) from the
// environment; `zones migrate` applies its database migrations and exits.
package main

import (
	"github.com/jingtong/backend/functions/zones"
	"github.com/jingtong/backend/triggers"
)

func main() { triggers.Main(zones.New) }
