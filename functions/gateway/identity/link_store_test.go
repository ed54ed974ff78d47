package identity_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/uptrace/bun"

	"github.com/jingtong/backend/functions/gateway/identity"
	"github.com/jingtong/backend/shared/auth"
	"github.com/jingtong/backend/shared/store/storetest"
)

// newLinkStore migrates db and returns a store whose clock advances one
// second per call, so created and last-login times differ.
func newLinkStore(t *testing.T, db *bun.DB) *identity.LinkStore {
	t.Helper()
	ctx := context.Background()
	if err := identity.Migrate(ctx, db); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if err := identity.Migrate(ctx, db); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	var mu sync.Mutex
	clock := testNow
	return identity.NewLinkStore(db, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	})
}

func TestLinkStore_resolve(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		links := newLinkStore(t, db)
		wechatUser := &identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-a", UserID: "o-1"}

		first, created, err := links.Resolve(ctx, wechatUser, "")
		if err != nil {
			t.Fatalf("first Resolve: %v", err)
		}
		if !created {
			t.Errorf("first login created = false, want true")
		}
		if _, err := uuid.Parse(first.Subject); err != nil {
			t.Errorf("new subject %q is not a UUID: %v", first.Subject, err)
		}

		again, created, err := links.Resolve(ctx, wechatUser, "")
		if err != nil {
			t.Fatalf("second Resolve: %v", err)
		}
		if created {
			t.Errorf("second login created = true, want false")
		}
		if again.Subject != first.Subject {
			t.Errorf("second login subject = %q, want %q", again.Subject, first.Subject)
		}
		if !again.LastLoginAt.After(first.LastLoginAt) || !again.CreatedAt.Equal(first.CreatedAt) {
			t.Errorf("second login times = created %s, last %s; want created %s and a later last login",
				again.CreatedAt, again.LastLoginAt, first.CreatedAt)
		}

		found, err := links.Find(ctx, identity.PlatformWeChat, "wx-a", "o-1")
		if err != nil {
			t.Fatalf("Find: %v", err)
		}
		if found.Subject != first.Subject || !found.LastLoginAt.Equal(again.LastLoginAt) {
			t.Errorf("Find = %+v, want subject %q and last login %s", found, first.Subject, again.LastLoginAt)
		}
		if _, err := links.Find(ctx, identity.PlatformWeChat, "wx-a", "o-unknown"); !errors.Is(err, identity.ErrLinkNotFound) {
			t.Errorf("Find(unknown) error = %v, want ErrLinkNotFound", err)
		}
	})
}

// TestLinkStore_separation covers the linking rule: accounts are separate
// per platform and app, except WeChat accounts with one unionid.
func TestLinkStore_separation(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		links := newLinkStore(t, db)
		resolve := func(u *identity.PlatformUser) *identity.Link {
			t.Helper()
			link, _, err := links.Resolve(ctx, u, "")
			if err != nil {
				t.Fatalf("Resolve(%+v): %v", u, err)
			}
			return link
		}

		wechatA := resolve(&identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-a", UserID: "same-id", UnionID: "union-1"})
		wechatB := resolve(&identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-b", UserID: "o-b", UnionID: "union-1"})
		wechatC := resolve(&identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-c", UserID: "o-c"})
		alipay := resolve(&identity.PlatformUser{Platform: identity.PlatformAlipay, AppID: "2021", UserID: "same-id"})
		baidu := resolve(&identity.PlatformUser{Platform: identity.PlatformBaidu, AppID: "bd", UserID: "same-id", UnionID: "union-1"})

		if wechatB.Subject != wechatA.Subject {
			t.Errorf("WeChat apps with one unionid: subjects %q and %q, want one", wechatA.Subject, wechatB.Subject)
		}
		for name, other := range map[string]*identity.Link{"WeChat without unionid": wechatC, "Alipay with the same user ID": alipay, "Baidu with the same union ID": baidu} {
			if other.Subject == wechatA.Subject {
				t.Errorf("%s shares subject %q with the first WeChat account, want a separate subject", name, other.Subject)
			}
		}

		all, err := links.ListBySubject(ctx, wechatA.Subject)
		if err != nil {
			t.Fatalf("ListBySubject: %v", err)
		}
		if len(all) != 2 || all[0].AppID != "wx-a" || all[1].AppID != "wx-b" {
			t.Errorf("ListBySubject = %+v, want the wx-a and wx-b links in that order", all)
		}
	})
}

func TestLinkStore_unionIDLearnedLater(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		links := newLinkStore(t, db)

		first, _, err := links.Resolve(ctx, &identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-a", UserID: "o-1"}, "")
		if err != nil {
			t.Fatalf("Resolve without unionid: %v", err)
		}
		if _, _, err := links.Resolve(ctx, &identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-a", UserID: "o-1", UnionID: "union-9"}, ""); err != nil {
			t.Fatalf("Resolve with unionid: %v", err)
		}
		other, created, err := links.Resolve(ctx, &identity.PlatformUser{Platform: identity.PlatformWeChat, AppID: "wx-b", UserID: "o-2", UnionID: "union-9"}, "")
		if err != nil {
			t.Fatalf("Resolve in another app: %v", err)
		}
		if !created || other.Subject != first.Subject {
			t.Errorf("other app: created %t, subject %q; want a new link to %q", created, other.Subject, first.Subject)
		}
	})
}

func TestLinkStore_concurrentFirstLogin(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		links := newLinkStore(t, db)
		user := &identity.PlatformUser{Platform: identity.PlatformAlipay, AppID: "2021", UserID: "2088"}

		const n = 8
		subjects := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				link, _, err := links.Resolve(ctx, user, "")
				errs[i] = err
				if err == nil {
					subjects[i] = link.Subject
				}
			})
		}
		wg.Wait()

		for i, err := range errs {
			if err != nil {
				t.Fatalf("Resolve %d: %v", i, err)
			}
		}
		for i, s := range subjects {
			if s != subjects[0] {
				t.Errorf("Resolve %d subject = %q, want %q like the others", i, s, subjects[0])
			}
		}
	})
}

func newLogin(t *testing.T, db *bun.DB, env *tokenEnv, exchangers ...identity.CodeExchanger) *identity.Login {
	t.Helper()
	login, err := identity.NewLogin(newLinkStore(t, db), env.issuer, nil, exchangers...)
	if err != nil {
		t.Fatalf("NewLogin: %v", err)
	}
	return login
}

func TestLogin_platformCodes(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		env := newTokenEnv(t)
		srv := newWeChatStandIn(t)
		wechat, err := identity.NewWeChatExchanger(identity.WeChatConfig{
			AppID: "wx-test-app", AppSecret: auth.Secret(testAppSecret), BaseURL: srv.URL, Client: srv.Client(), Timeout: testTimeout,
		})
		if err != nil {
			t.Fatalf("NewWeChatExchanger: %v", err)
		}
		login := newLogin(t, db, env, wechat, identity.DevExchanger{})

		first, err := login.Login(ctx, identity.LoginRequest{Platform: identity.PlatformWeChat, Code: "good-code-0001"})
		if err != nil {
			t.Fatalf("first Login: %v", err)
		}
		if !first.Created {
			t.Errorf("first Login created = false, want true")
		}
		claims, err := env.verifier.Verify(first.Token.Token)
		if err != nil {
			t.Fatalf("issued token: %v", err)
		}
		if claims.Subject != first.Link.Subject || claims.Channel != "wechat" || claims.App != "wx-test-app" || !slices.Equal(claims.Roles, []auth.Role{auth.RoleCitizen}) {
			t.Errorf("claims = %+v, want the link's subject, channel wechat, app wx-test-app and role citizen", claims)
		}

		second, err := login.Login(ctx, identity.LoginRequest{Platform: identity.PlatformWeChat, AppID: "wx-test-app", Code: "good-code-0001"})
		if err != nil {
			t.Fatalf("second Login: %v", err)
		}
		if second.Created || second.Link.Subject != first.Link.Subject {
			t.Errorf("second Login = created %t, subject %q; want the existing link %q", second.Created, second.Link.Subject, first.Link.Subject)
		}

		dev, err := login.Login(ctx, identity.LoginRequest{Platform: identity.PlatformDev, Code: "dev-enterprise_legal_rep"})
		if err != nil {
			t.Fatalf("dev Login: %v", err)
		}
		devClaims, err := env.verifier.Verify(dev.Token.Token)
		if err != nil {
			t.Fatalf("dev token: %v", err)
		}
		if devClaims.Subject != "dev-enterprise-legal-rep" || !slices.Equal(devClaims.Roles, []auth.Role{auth.RoleCitizen, auth.RoleEnterpriseLegalRep}) {
			t.Errorf("dev claims = %+v, want the legal representative test user", devClaims)
		}

		errorCases := []struct {
			req  identity.LoginRequest
			code string
		}{
			{identity.LoginRequest{Platform: identity.PlatformWeChat, Code: "bad-code-00001"}, "LOGIN_CODE_INVALID"},
			{identity.LoginRequest{Platform: identity.PlatformWeChat, Code: "risky-code-001"}, "LOGIN_REJECTED"},
			{identity.LoginRequest{Platform: identity.PlatformWeChat, Code: "limit-code-001"}, "PLATFORM_RATE_LIMITED"},
			{identity.LoginRequest{Platform: identity.PlatformWeChat, Code: "busy-code-0001"}, "PLATFORM_UNAVAILABLE"},
			{identity.LoginRequest{Platform: identity.PlatformWeChat, AppID: "wx-other", Code: "good-code-0001"}, "LOGIN_PLATFORM_UNKNOWN"},
			{identity.LoginRequest{Platform: identity.PlatformAlipay, Code: "good-code-0001"}, "LOGIN_PLATFORM_UNKNOWN"},
			{identity.LoginRequest{Platform: identity.PlatformDev, Code: "dev-root"}, "LOGIN_CODE_INVALID"},
		}
		for _, tc := range errorCases {
			_, err := login.Login(ctx, tc.req)
			if err == nil {
				t.Errorf("Login(%+v) error = nil, want %s", tc.req, tc.code)
				continue
			}
			var code string
			if he := asHTTPError(err); he != nil {
				code = he.Code.ID
			}
			if code != tc.code {
				t.Errorf("Login(%+v) error = %v, want code %s", tc.req, err, tc.code)
			}
		}
	})
}

func TestLoginHandler_http(t *testing.T) {
	storetest.EachDB(t, func(t *testing.T, db *bun.DB) {
		env := newTokenEnv(t)
		h := identity.NewLoginHandler(newLogin(t, db, env, identity.DevExchanger{}), nil)

		rec := postJSON(t, h, `{"platform":"dev","code":"dev-citizen"}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("status = %d, want 200; body %s", rec.Code, rec.Body)
		}
		body := decodeBody[tokenBody](t, rec)
		if body.Subject != "dev-citizen" || !body.Created || body.Token == "" {
			t.Errorf("body = %+v, want a new link for dev-citizen with a token", body)
		}

		rec = postJSON(t, h, `{"platform":"dev","code":"dev-citizen"}`)
		if body := decodeBody[tokenBody](t, rec); body.Created {
			t.Errorf("second login created = true, want false")
		}

		rec = postJSON(t, h, `{"platform":"dev","code":"nope"}`)
		if rec.Code != http.StatusUnauthorized || decodeBody[errorBody](t, rec).Error.Code != "LOGIN_CODE_INVALID" {
			t.Errorf("bad code: %d %s, want 401 LOGIN_CODE_INVALID", rec.Code, rec.Body)
		}
	})
}

func TestNewLogin_duplicateExchanger(t *testing.T) {
	t.Parallel()
	db := storetest.OpenSQLite(t)
	env := newTokenEnv(t)
	if _, err := identity.NewLogin(identity.NewLinkStore(db, nil), env.issuer, nil, identity.DevExchanger{}, identity.DevExchanger{}); err == nil {
		t.Errorf("NewLogin with two exchangers for one app: error = nil, want an error")
	}
}
