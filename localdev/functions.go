package localdev

import (
	"github.com/jingtong/backend/functions/zones"
	"github.com/jingtong/backend/shared/fn"
)

// namedBuilder is a function's builder with the function's name, which
// localdev needs before the build to apply the configuration that the
// OpenFaaS API stored for it.
type namedBuilder struct {
	name  string
	build fn.Builder
}

// builders lists every function localdev hosts, in start-up order. Adding a
// function means adding its name and constructor here. The gateway is
// hosted after them, in front of them.
var builders = []namedBuilder{
	{zones.Name, zones.New},
}
