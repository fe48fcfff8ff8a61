package smart

import (
	"fmt"
	"slices"
	"strings"
)

// Resources are the FHIR resource types the API serves (reads only).
var Resources = []string{"Patient", "Observation", "Device", "Encounter"}

// Scope is one parsed SMART scope: context (system or user), resource
// type (or "*") and the permissions it grants of c, r, u, d, s. SMART
// v1's ".read" is "rs", ".write" "cud", ".*" all of them.
type Scope struct {
	Context  string
	Resource string
	Perms    string
}

// ParseScope reads a SMART v2 (system/Observation.rs) or v1
// (system/Observation.read) scope.
func ParseScope(s string) (Scope, error) {
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok || (ctx != "system" && ctx != "user") {
		return Scope{}, fmt.Errorf("scope %q: not a system/ or user/ scope", s)
	}
	res, perms, ok := strings.Cut(rest, ".")
	if !ok || (res != "*" && !slices.Contains(Resources, res)) {
		return Scope{}, fmt.Errorf("scope %q: the resource is one of %s or *", s, strings.Join(Resources, ", "))
	}
	if i := strings.IndexByte(perms, '?'); i >= 0 {
		return Scope{}, fmt.Errorf("scope %q: search constraints on scopes are not supported", s)
	}
	switch perms {
	case "read":
		perms = "rs"
	case "write":
		perms = "cud"
	case "*":
		perms = "cruds"
	default:
		// v2: a subsequence of "cruds", in that order, at least one.
		if perms == "" || !isOrderedSubset(perms, "cruds") {
			return Scope{}, fmt.Errorf("scope %q: permissions are read, write, * or letters of cruds in that order", s)
		}
	}
	return Scope{Context: ctx, Resource: res, Perms: perms}, nil
}

func isOrderedSubset(s, of string) bool {
	i := 0
	for _, c := range []byte(s) {
		j := strings.IndexByte(of[i:], c)
		if j < 0 {
			return false
		}
		i += j + 1
	}
	return true
}

// String is the scope in the SMART v2 form.
func (s Scope) String() string { return s.Context + "/" + s.Resource + "." + s.Perms }

// covers reports whether s grants perm (one letter) on resource.
func (s Scope) covers(ctx, resource string, perm byte) bool {
	return s.Context == ctx && (s.Resource == "*" || s.Resource == resource) && strings.IndexByte(s.Perms, perm) >= 0
}

// Need is what a FHIR route needs: a resource type and a permission
// letter ('r' read by id, 's' search).
type Need struct {
	Resource string
	Perm     byte
}

// Allows reports whether the granted scopes (of context ctx) cover every
// need.
func Allows(ctx string, granted []string, needs []Need) bool {
	for _, n := range needs {
		ok := false
		for _, g := range granted {
			if s, err := ParseScope(g); err == nil && s.covers(ctx, n.Resource, n.Perm) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// grant returns the requested scopes the allowed ones cover, narrowed
// to what the API serves (reads and searches): a request for
// system/Observation.rs by a client allowed system/*.rs is granted as
// asked; one for system/Observation.cruds is granted .rs.
func grant(requested, allowed []Scope) []string {
	var out []string
	for _, q := range requested {
		perms := ""
		for _, p := range []byte("rs") {
			if strings.IndexByte(q.Perms, p) < 0 {
				continue
			}
			for _, a := range allowed {
				if a.covers(q.Context, q.Resource, p) || (q.Resource == "*" && a.Resource == "*" && a.covers(q.Context, "*", p)) {
					perms += string(p)
					break
				}
			}
		}
		if perms != "" {
			s := Scope{q.Context, q.Resource, perms}.String()
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}
