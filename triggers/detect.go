package triggers

import (
	"fmt"
)

// Platform names the runtime that serves a function.
type Platform string

// Platforms that Detect returns.
const (
	// PlatformHTTP is a plain HTTP server on $PORT: Knative, OpenFaaS
	// of-watchdog in http mode, SCF web functions and local runs.
	PlatformHTTP Platform = "http"
	// PlatformLambda is the AWS Lambda runtime.
	PlatformLambda Platform = "lambda"
	// PlatformSCF is the Tencent Cloud SCF event function runtime.
	PlatformSCF Platform = "scf"
)

// PlatformEnv is the variable that selects the platform explicitly.
const PlatformEnv = "JT_PLATFORM"

// Detect returns the platform that the environment read through lookup
// selects. The first rule that matches wins:
//
//  1. JT_PLATFORM, when set, names the platform: http, lambda or scf. Any other
//     value is an error.
//  2. AWS_LAMBDA_RUNTIME_API means Lambda, on the provided.al2 and al2023
//     runtimes.
//  3. An SCF variable means SCF. SCF event functions for Go get the
//     net/rpc port in _LAMBDA_SERVER_PORT, which scf-go-lib listens on, and
//     run on the scf platform. SCF web functions have no such port and receive
//     plain HTTP, so they run on the http platform.
//  4. _LAMBDA_SERVER_PORT alone means Lambda on the retired go1.x runtime,
//     which aws-lambda-go serves over the same net/rpc transport.
//  5. Otherwise the platform is http.
//
// SCF is recognised by TENCENTCLOUD_RUNENV=SCF, which SCF sets in every
// function (built-in variable table, tencentcloud.com/document/product/583/32748),
// or by SCF_RUNTIME or SCF_FUNCTIONNAME. SCF reserves the SCF_ prefix and
// names SCF_RUNTIME as an example (docs.cloudbase.net
// cloud-function/function-configuration/env). SCF_FUNCTIONNAME is the name
// variable that published SCF code reads.
func Detect(lookup func(string) (string, bool)) (Platform, error) {
	isSet := func(key string) bool {
		v, ok := lookup(key)
		return ok && v != ""
	}

	if v, ok := lookup(PlatformEnv); ok && v != "" {
		switch p := Platform(v); p {
		case PlatformHTTP, PlatformLambda, PlatformSCF:
			return p, nil
		}
		return "", fmt.Errorf("triggers: invalid %s %q: want %s, %s or %s",
			PlatformEnv, v, PlatformHTTP, PlatformLambda, PlatformSCF)
	}

	if isSet("AWS_LAMBDA_RUNTIME_API") {
		return PlatformLambda, nil
	}

	runEnv, _ := lookup("TENCENTCLOUD_RUNENV")
	onSCF := runEnv == "SCF" || isSet("SCF_RUNTIME") || isSet("SCF_FUNCTIONNAME")
	rpcPort := isSet("_LAMBDA_SERVER_PORT")
	switch {
	case onSCF && rpcPort:
		return PlatformSCF, nil
	case onSCF:
		return PlatformHTTP, nil
	case rpcPort:
		return PlatformLambda, nil
	}
	return PlatformHTTP, nil
}
