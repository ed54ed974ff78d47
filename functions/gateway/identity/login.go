package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/httpx"
)

// RolesFunc returns the roles of the user behind link at login.
type RolesFunc func(ctx context.Context, link *Link) ([]auth.Role, error)

// CitizenRoles is the default RolesFunc: every platform user is a citizen.
// Enterprise and delegation roles come from the user space function once it
// binds accounts.
func CitizenRoles(context.Context, *Link) ([]auth.Role, error) {
	return []auth.Role{auth.RoleCitizen}, nil
}

// Login exchanges a mini-program login code, links the platform account to
// a subject and issues a token for it.
type Login struct {
	exchangers map[exchangerKey]CodeExchanger
	// single maps a platform with exactly one app to that app's exchanger,
	// so clients of that platform may leave out the app ID.
	single map[Platform]CodeExchanger
	links  *LinkStore
	issuer *Issuer
	roles  RolesFunc
}

type exchangerKey struct {
	platform Platform
	appID    string
}

// NewLogin returns a Login over exchangers, one per (platform, app ID).
// roles nil means CitizenRoles.
func NewLogin(links *LinkStore, issuer *Issuer, roles RolesFunc, exchangers ...CodeExchanger) (*Login, error) {
	if links == nil || issuer == nil {
		return nil, errors.New("identity: login needs a link store and an issuer")
	}
	if roles == nil {
		roles = CitizenRoles
	}
	l := &Login{
		exchangers: make(map[exchangerKey]CodeExchanger, len(exchangers)),
		single:     make(map[Platform]CodeExchanger),
		links:      links, issuer: issuer, roles: roles,
	}
	perPlatform := make(map[Platform]int)
	for _, ex := range exchangers {
		key := exchangerKey{ex.Platform(), ex.AppID()}
		if _, dup := l.exchangers[key]; dup {
			return nil, fmt.Errorf("identity: two exchangers for %s app %q", key.platform, key.appID)
		}
		l.exchangers[key] = ex
		l.single[key.platform] = ex
		perPlatform[key.platform]++
	}
	for platform, n := range perPlatform {
		if n > 1 {
			delete(l.single, platform)
		}
	}
	return l, nil
}

// LoginRequest is the body of a login.
type LoginRequest struct {
	// Platform is "wechat", "alipay", "baidu" or, in development, "dev".
	Platform Platform `json:"platform"`
	// AppID is the mini-program's app ID; it may be left out when only one
	// app of the platform is configured.
	AppID string `json:"app_id,omitempty"`
	// Code is the code from wx.login, my.getAuthCode or swan.login.
	Code string `json:"code"`
}

// LoginResult is a successful login.
type LoginResult struct {
	Token *IssuedToken
	Link  *Link
	// Created reports whether this was the account's first login.
	Created bool
}

// Login runs one login. Errors are *httpx.Error values:
// LOGIN_PLATFORM_UNKNOWN for a platform and app without an exchanger,
// LOGIN_CODE_INVALID, LOGIN_REJECTED, PLATFORM_RATE_LIMITED and
// PLATFORM_UNAVAILABLE from the exchange, and INTERNAL for store or signing
// failures.
func (l *Login) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	ex, ok := l.exchanger(req.Platform, req.AppID)
	if !ok {
		return nil, httpx.E(CodeLoginPlatformUnknown, req.Platform, req.AppID)
	}

	user, err := ex.Exchange(ctx, req.Code)
	if err != nil {
		return nil, exchangeError(req.Platform, err)
	}

	var (
		fixedSubject string
		fixedRoles   []auth.Role
	)
	if fixed, ok := ex.(fixedAccounts); ok {
		if dev, ok := fixed.fixedAccount(user.UserID); ok {
			fixedSubject, fixedRoles = dev.Subject, dev.Roles
		}
	}

	link, created, err := l.links.Resolve(ctx, user, fixedSubject)
	if err != nil {
		return nil, httpx.Wrap(httpx.CodeInternal, err)
	}
	roles := fixedRoles
	if roles == nil {
		if roles, err = l.roles(ctx, link); err != nil {
			return nil, httpx.Wrap(httpx.CodeInternal, fmt.Errorf("identity: finding the roles of a user: %w", err))
		}
	}

	issued, err := l.issuer.Issue(ctx, &auth.Identity{Subject: link.Subject, Roles: roles, Channel: string(user.Platform), App: user.AppID})
	if err != nil {
		return nil, httpx.Wrap(httpx.CodeInternal, err)
	}
	return &LoginResult{Token: issued, Link: link, Created: created}, nil
}

func (l *Login) exchanger(platform Platform, appID string) (CodeExchanger, bool) {
	if appID == "" {
		ex, ok := l.single[platform]
		return ex, ok
	}
	ex, ok := l.exchangers[exchangerKey{platform, appID}]
	return ex, ok
}

// exchangeError maps an exchange failure to its error code.
func exchangeError(platform Platform, err error) *httpx.Error {
	switch {
	case errors.Is(err, ErrCodeInvalid):
		return httpx.Wrap(CodeLoginCodeInvalid, err)
	case errors.Is(err, ErrLoginRejected):
		return httpx.Wrap(CodeLoginRejected, err, platform)
	case errors.Is(err, ErrPlatformRateLimited):
		return httpx.Wrap(CodePlatformRateLimited, err, platform)
	}
	return httpx.Wrap(CodePlatformUnavailable, err, platform)
}
