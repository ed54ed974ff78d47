package route_test

import (
	"fmt"

	"github.com/jingtong/backend/functions/gateway/route"
)

// The table from the package documentation.
const docTable = `{"cors_policies": {"h5-public": {"allow_origins": ["https://h5.example.cn"], "max_age": "10m"}},
 "routes": [
  {"name": "zones-catalogue", "prefix": "/api/zones/zones", "class": "public",
   "methods": ["GET"], "target": {"function": "zones"},
   "rewrite": {"replace_prefix": "/zones"}, "timeout": "5s",
   "cors": "h5-public",
   "rate_limits": [{"name": "zone-page", "rate": 200, "period": "1s", "burst": 400,
                    "by": ["zone"], "zone_pattern": "^/api/zones/zones/(?P<zone>[^/]+)/page$"}]},
  {"name": "social-insurance", "prefix": "/api/si", "class": "identified",
   "methods": ["GET", "POST"],
   "target": {"upstreams": [{"url": "http://10.0.0.5:8080/si", "weight": 3},
                            {"url": "http://10.0.0.6:8080/si", "weight": 1}],
              "balance": "weighted"},
   "versions": {"header": "X-API-Version", "query": "version",
                "targets": {"v2": {"upstreams": [{"url": "http://10.0.0.7:8080/si"}]}}},
   "rewrite": {"strip_prefix": true}, "timeout": "8s", "try_timeout": "3s", "retries": 2,
   "health": {"active": {"path": "/healthz", "interval": "5s"},
              "passive": {"max_failures": 5, "cool_down": "30s"}},
   "convert": {"request": "xml", "response": "json", "xml_root": "req", "arrays": ["record"]},
   "errors": {"timeout": {"code": "SI_BUSY", "status": 503,
                          "zh": "社保查询繁忙，请稍后再试", "en": "social insurance queries are busy; try again later"}}},
  {"name": "function-internal", "prefix": "/function", "class": "internal"}
]}`

func ExampleParse() {
	table, err := route.Parse([]byte(docTable))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range table.Routes {
		fmt.Println(r.Name, r.Class, r.Prefix)
	}
	fmt.Println(table.Routes[0].Name, "uses the CORS policy", table.Routes[0].CORSPolicy)

	_, err = route.Parse([]byte(`{"routes": [{"name": "x", "prefix": "api", "class": "public", "target": {}}]}`))
	fmt.Println(err)
	// Output:
	// zones-catalogue public /api/zones/zones
	// social-insurance identified /api/si
	// function-internal internal /function
	// zones-catalogue uses the CORS policy h5-public
	// route: invalid route table (2 problems)
	//   /routes/0/prefix: prefix "api" must start with /
	//   /routes/0/target: set either function or upstreams
}

func ExampleJSONToXML() {
	out, _ := route.JSONToXML([]byte(`{"@v": "1", "name": "张三", "ids": [1, 2]}`), "req", 32)
	fmt.Println(string(out))
	back, _ := route.XMLToJSON(out, nil, 32)
	fmt.Println(string(back))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <req v="1"><name>张三</name><ids>1</ids><ids>2</ids></req>
	// {"@v":"1","name":"张三","ids":["1","2"]}
}
