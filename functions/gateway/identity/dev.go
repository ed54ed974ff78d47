package identity

import (
	"slices"
	"strings"

	"github.com/jingtong/backend/shared/auth"
)

// DevUser is a test user for local development, with a stable subject so
// that data created in one session belongs to the same user in the next.
type DevUser struct {
	// Key names the user in POST /dev/login and in "dev-<key>" login codes.
	Key string `json:"user"`
	// Subject is the user's stable subject.
	Subject string `json:"subject"`
	// Name is a display name for demos.
	Name string `json:"name"`
	// Roles are the user's roles.
	Roles []auth.Role `json:"roles"`
}

// devUsers are the development test users, one per kind of user that the
// platform serves. The operator's subject is the one the development
// operator token also maps to.
var devUsers = []DevUser{
	{Key: "citizen", Subject: "dev-citizen", Name: "张三", Roles: []auth.Role{auth.RoleCitizen}},
	{Key: "elderly", Subject: "dev-elderly", Name: "李秀英", Roles: []auth.Role{auth.RoleCitizen, auth.RoleElderly}},
	{Key: "enterprise_legal_rep", Subject: "dev-enterprise-legal-rep", Name: "王建国", Roles: []auth.Role{auth.RoleCitizen, auth.RoleEnterpriseLegalRep}},
	{Key: "enterprise_employee", Subject: "dev-enterprise-employee", Name: "赵敏", Roles: []auth.Role{auth.RoleCitizen, auth.RoleEnterpriseEmployee}},
	{Key: "operator", Subject: auth.DevOperatorSubject, Name: "运营管理员", Roles: []auth.Role{auth.RoleOperator}},
	{Key: "tech_reviewer", Subject: "dev-tech-reviewer", Name: "技术审核员", Roles: []auth.Role{auth.RoleTechReviewer}},
	{Key: "biz_reviewer", Subject: "dev-biz-reviewer", Name: "业务审核员", Roles: []auth.Role{auth.RoleBizReviewer}},
}

// DevUsers returns the development test users: citizen, elderly,
// enterprise_legal_rep, enterprise_employee, operator, tech_reviewer and
// biz_reviewer.
func DevUsers() []DevUser {
	out := make([]DevUser, len(devUsers))
	for i, u := range devUsers {
		u.Roles = slices.Clone(u.Roles)
		out[i] = u
	}
	return out
}

// LookupDevUser returns the test user with key.
func LookupDevUser(key string) (DevUser, bool) {
	for _, u := range devUsers {
		if u.Key == key {
			u.Roles = slices.Clone(u.Roles)
			return u, true
		}
	}
	return DevUser{}, false
}

// devUserKeys lists the keys for error messages.
func devUserKeys() string {
	keys := make([]string, len(devUsers))
	for i, u := range devUsers {
		keys[i] = u.Key
	}
	return strings.Join(keys, ", ")
}

func (u DevUser) identity(channel, app string) *auth.Identity {
	return &auth.Identity{Subject: u.Subject, Roles: slices.Clone(u.Roles), Channel: channel, App: app}
}
