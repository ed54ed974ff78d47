package localdev

import (
	"github.com/jingtong/backend/functions/zones"
	"github.com/jingtong/backend/shared/fn"
)

// builders lists every function localdev hosts, in start-up order. Adding a
// function means adding its constructor here.
var builders = []fn.Builder{
	zones.New,
}
