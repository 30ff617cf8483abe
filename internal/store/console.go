package store

import (
	"context"
	"time"
)

// Console is the storage of the web console: people and their roles, the certificates they log in with,
// sessions and the audit log of every change a person makes (docs/console.md).
type Console interface {
	// PutPerson creates a person (p.ID zero; the new id is returned) or updates one (its id is returned).
	PutPerson(ctx context.Context, p Person) (int64, error)
	// Person gives the person with this id, or ErrNotFound.
	Person(ctx context.Context, id int64) (Person, error)
	// People lists every person by id.
	People(ctx context.Context) ([]Person, error)

	// PutPersonCertificate registers a certificate a person logs in with (or updates its details). A
	// certificate belongs to one person: registering it for another is ErrInvalid.
	PutPersonCertificate(ctx context.Context, c PersonCertificate) error
	// PersonCertificates lists a person's certificates (every person's when person is 0), by fingerprint.
	PersonCertificates(ctx context.Context, person int64) ([]PersonCertificate, error)
	// DeletePersonCertificate removes a certificate, or says ErrNotFound; its sessions end with it.
	DeletePersonCertificate(ctx context.Context, fingerprint Hash) error
	// PersonByCertificate gives the person a certificate belongs to, or ErrNotFound.
	PersonByCertificate(ctx context.Context, fingerprint Hash) (Person, PersonCertificate, error)

	// CreateSession stores a new session.
	CreateSession(ctx context.Context, s Session) error
	// Session gives the session with this id if it has not expired at now, else ErrNotFound.
	Session(ctx context.Context, id string, now time.Time) (Session, error)
	// TouchSession moves a session's idle expiry to expires (never past its absolute end), or says
	// ErrNotFound.
	TouchSession(ctx context.Context, id string, seen, expires time.Time) error
	// DeleteSession ends a session (nothing happens if there is none).
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions removes the sessions expired at now and gives how many.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int64, error)

	// AddAudit appends an entry to the audit log and gives its id.
	AddAudit(ctx context.Context, e AuditEntry) (int64, error)
	// Audit lists the entries f selects, newest first.
	Audit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Role is what a person may see and do in the console.
type Role string

// The roles of the console (DESIGN.md §2, §6).
const (
	// RoleOperator is a person of an obligated person (задължено лице): it sees its own EIK's sites only.
	RoleOperator Role = "operator"
	// RoleOfficer is a customs officer: it sees the sites its customs office supervises.
	RoleOfficer Role = "officer"
	// RoleAdmin is a central administrator (ЦМУ): it sees every site.
	RoleAdmin Role = "admin"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r == RoleOperator || r == RoleOfficer || r == RoleAdmin }

// Person is someone who logs in to the console.
type Person struct {
	ID       int64 // assigned by PutPerson
	Name     string
	Email    string
	Role     Role
	Operator string // the EIK whose sites an operator sees (RoleOperator only)
	Office   string // the customs office whose sites an officer sees (RoleOfficer only)
	Disabled bool   // a disabled person cannot log in; its sessions stop working
	Created  time.Time
}

// Validate checks the fields the store and the console rely on.
func (p *Person) Validate() error {
	if p.Name == "" {
		return invalid("person.name: empty")
	}
	if !p.Role.Valid() {
		return invalid("person.role: unknown %q", p.Role)
	}
	switch p.Role {
	case RoleOperator:
		if p.Operator == "" {
			return invalid("person.operator: an operator's person needs its EIK")
		}
		if p.Office != "" {
			return invalid("person.office: only an officer has a customs office")
		}
	case RoleOfficer:
		if p.Office == "" {
			return invalid("person.office: an officer needs a customs office")
		}
		if p.Operator != "" {
			return invalid("person.operator: only an operator's person has an EIK")
		}
	case RoleAdmin:
		if p.Operator != "" || p.Office != "" {
			return invalid("person: an administrator has neither an EIK nor a customs office")
		}
	}
	return nil
}

// PersonCertificate is a certificate a person logs in with (its electronic signature).
type PersonCertificate struct {
	Fingerprint Hash // SHA-256 of DER: the key
	Person      int64
	DER         []byte
	Subject     string
	NotAfter    time.Time
}

// Session is a logged-in person's session. The cookie carries a random token; the store keeps only its
// SHA-256 (ID), so that a copy of the database gives no one a session.
type Session struct {
	ID          string // hex SHA-256 of the cookie's token
	Person      int64
	Certificate Hash   // the certificate the person logged in with: a request with another one is refused
	CSRF        string // the token every form of the session carries
	Created     time.Time
	Seen        time.Time // the last request
	Expires     time.Time // the idle expiry, moved by TouchSession
	End         time.Time // the absolute end, whatever the activity
	Remote      string    // the address the session was created from
}

// AuditEntry is one change a person made.
type AuditEntry struct {
	ID     int64 // assigned by AddAudit
	Time   time.Time
	Person int64
	Name   string // the person's name at the time
	Action string // what was done, e.g. "alarm.ack", "site.state"
	Site   string // the warehouse number concerned, if any
	Object string // what was changed (an alarm id, a config hash, …)
	Detail string // the values, e.g. "live → suspended: ремонт"
	Remote string // the client's address
}

// AuditFilter selects audit entries; zero fields select all.
type AuditFilter struct {
	Person int64
	Site   string
	Since  time.Time
	Until  time.Time
	Limit  int // 0: no limit
}
