package auth_test

import (
	"strings"
	"testing"

	"github.com/jingtong/backend/shared/auth"
)

func TestIdentity_validate(t *testing.T) {
	t.Parallel()

	manyRoles := make([]auth.Role, auth.MaxRoles+1)
	for i := range manyRoles {
		manyRoles[i] = auth.Role("r" + strings.Repeat("a", i+1))
	}

	tests := []struct {
		name    string
		id      *auth.Identity
		wantErr bool
	}{
		{name: "citizen", id: &auth.Identity{Subject: "9b2f6c1e-4d4a-4f0e-9a53-0c1e2d3f4a5b", Roles: []auth.Role{auth.RoleCitizen}, Channel: "alipay", App: "2021000000000000"}},
		{name: "no roles", id: &auth.Identity{Subject: "u1"}},
		{name: "every project role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{
			auth.RoleCitizen, auth.RoleElderly, auth.RoleEnterpriseLegalRep, auth.RoleEnterpriseEmployee,
			auth.RoleOperator, auth.RoleTechReviewer, auth.RoleBizReviewer,
		}}},
		{name: "nil", id: nil, wantErr: true},
		{name: "empty subject", id: &auth.Identity{}, wantErr: true},
		{name: "long subject", id: &auth.Identity{Subject: strings.Repeat("a", auth.MaxSubjectSize+1)}, wantErr: true},
		{name: "subject with newline", id: &auth.Identity{Subject: "a\nb"}, wantErr: true},
		{name: "platform role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{auth.RolePlatform}}, wantErr: true},
		{name: "upper-case role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{"Operator"}}, wantErr: true},
		{name: "empty role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{""}}, wantErr: true},
		{name: "repeated role", id: &auth.Identity{Subject: "u1", Roles: []auth.Role{auth.RoleCitizen, auth.RoleCitizen}}, wantErr: true},
		{name: "too many roles", id: &auth.Identity{Subject: "u1", Roles: manyRoles}, wantErr: true},
		{name: "channel with capitals", id: &auth.Identity{Subject: "u1", Channel: "WeChat"}, wantErr: true},
		{name: "app with slash", id: &auth.Identity{Subject: "u1", App: "a/b"}, wantErr: true},
		{name: "long app", id: &auth.Identity{Subject: "u1", App: strings.Repeat("a", auth.MaxAppSize+1)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.id.Validate()
			if (err != nil) != tt.wantErr {
				t.Errorf("Validate() error = %v, want error %t", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "auth: ") {
				t.Errorf("error %q, want the auth: prefix", err)
			}
		})
	}
}
