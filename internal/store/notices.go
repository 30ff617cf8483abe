package store

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"time"
)

// Notices is the storage of notices and subscriptions („Обратна връзка с ИО“, the e-Portal FAQ): the
// catalogue of information systems and who may follow which, subscriptions, notices with their revisions,
// and the outbox of messages to send (docs/notices.md). The domain rules (what a subscription may hold,
// what a revision may follow) are package notify's; the store keeps the shapes and the transactions.
type Notices interface {
	// PutSystem creates or renames an information system of the catalogue.
	PutSystem(ctx context.Context, s InfoSystem) error
	// Systems lists the catalogue by code.
	Systems(ctx context.Context) ([]InfoSystem, error)
	// System gives the system with this code, or ErrNotFound.
	System(ctx context.Context, code string) (InfoSystem, error)

	// GrantSystem lets an EIK or a certificate follow a system (an administrator's decision).
	GrantSystem(ctx context.Context, g SystemGrant) error
	// RevokeSystem withdraws a grant, or says ErrNotFound.
	RevokeSystem(ctx context.Context, g SystemGrant) error
	// Grants lists the grants of a system (all when system is empty).
	Grants(ctx context.Context, system string) ([]SystemGrant, error)
	// SystemsFor lists the systems that an EIK or a certificate may follow, by code.
	SystemsFor(ctx context.Context, eik string, cert Hash) ([]InfoSystem, error)

	// PutSubscription creates a subscription (ID 0; the store assigns it) or replaces one, in one
	// transaction with the outbox row of its confirmation message when confirm is not nil. A second
	// subscription of one user to one system is ErrDuplicate.
	PutSubscription(ctx context.Context, s *Subscription, confirm *OutboxItem) error
	// Subscription gives the subscription with this id, or ErrNotFound.
	Subscription(ctx context.Context, id int64) (Subscription, error)
	// SubscriptionByToken gives the subscription whose confirmation or unsubscribe token is token.
	SubscriptionByToken(ctx context.Context, token string) (Subscription, error)
	// Subscriptions lists the subscriptions f selects, by id.
	Subscriptions(ctx context.Context, f SubscriptionFilter) ([]Subscription, error)
	// Quarantine marks every subscription to this address (compared without case) as undeliverable
	// from at, with the reason; their pending messages are cancelled.
	Quarantine(ctx context.Context, email, reason string, at time.Time) error

	// PutWebhook creates a webhook (ID 0; the store assigns it) or replaces one.
	PutWebhook(ctx context.Context, w *Webhook) error
	// Webhook gives the webhook with this id, or ErrNotFound.
	Webhook(ctx context.Context, id int64) (Webhook, error)
	// Webhooks lists the webhooks f selects, by id.
	Webhooks(ctx context.Context, f WebhookFilter) ([]Webhook, error)

	// Publish stores a revision of a notice (Rev 1 creates the notice and gives it an ID) and, in the
	// same transaction, the outbox rows plan gives for it, computed from the notice's matching
	// subscriptions and active webhooks. The pending rows of the notice's earlier revisions whose Kind
	// is OutboxReminder are cancelled. rev.Rev must be the notice's next revision, or Publish returns
	// ErrStale.
	Publish(ctx context.Context, rev *Revision, plan func(n Notice, subs []Subscription, hooks []Webhook) []OutboxItem) error
	// Notice gives a notice with all its revisions, or ErrNotFound.
	Notice(ctx context.Context, id int64) (Notice, error)
	// Notices lists notices f selects, newest first, each with all its revisions.
	Notices(ctx context.Context, f NoticeFilter) ([]Notice, error)

	// ClaimOutbox moves up to limit rows due at now to OutboxSending and gives them, oldest first: the
	// pending ones with NextAttempt <= now, and the sending ones claimed before now-lease (a worker that
	// died before it sent anything). Another worker's claim is never taken within its lease.
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]OutboxItem, error)
	// MoveOutbox changes a row from state from to u.State with u's fields in one transaction; a row not in
	// from is ErrStale (someone else moved it).
	MoveOutbox(ctx context.Context, id int64, from OutboxState, u OutboxUpdate) error
	// Outbox lists the outbox rows f selects, by id.
	Outbox(ctx context.Context, f OutboxFilter) ([]OutboxItem, error)
	// QueueOutbox adds, in one transaction, the OutboxAlarm rows of items whose keys are not queued
	// already, and gives how many it added: a second report of the same alarm change queues nothing.
	// Each row names its alarm, entry (its Seq) and person, and nothing else; a person who does not exist
	// is ErrNotFound and nothing is added. (The other kinds are queued with what they belong to: Publish,
	// PutSubscription.)
	QueueOutbox(ctx context.Context, items []OutboxItem) (int, error)
}

// More errors of the notices area.
var (
	// ErrDuplicate: a user's second subscription to one system.
	ErrDuplicate = errors.New("duplicate")
	// ErrStale: an outbox row or a notice is no longer in the state the caller read.
	ErrStale = errors.New("stale")
)

// InfoSystem is an information system of the Customs Agency in the catalogue (e.g. БСУТ, EMCS-BG).
type InfoSystem struct {
	Code   string `json:"code"`    // short code, the key: letters, digits, '-', '_' (e.g. BACIS)
	Name   string `json:"name"`    // Bulgarian name
	NameEN string `json:"name_en"` // English name ("" falls back to Name)
}

// Validate checks the fields the store relies on.
func (s *InfoSystem) Validate() error {
	if !ValidSystemCode(s.Code) {
		return invalid("system.code: %q is not 1-32 letters, digits, '-' or '_'", s.Code)
	}
	if strings.TrimSpace(s.Name) == "" {
		return invalid("system.name: empty")
	}
	return nil
}

// ValidSystemCode reports whether code can name a system.
func ValidSystemCode(code string) bool {
	if len(code) == 0 || len(code) > 32 {
		return false
	}
	for _, c := range code {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// SystemGrant lets an EIK (every certificate of that operator) or one certificate follow a system.
// Exactly one of EIK and Certificate is set.
type SystemGrant struct {
	System      string
	EIK         string
	Certificate Hash
}

// EventKind is what a subscriber follows (the FAQ's three events).
type EventKind string

// The events of the FAQ.
const (
	EventDocuments     EventKind = "documents"     // „Актуализация на документи“
	EventOperability   EventKind = "operability"   // „Работоспособност“
	EventNomenclatures EventKind = "nomenclatures" // „Актуализация на номенклатури“
)

// Valid reports whether k is a known event.
func (k EventKind) Valid() bool {
	return k == EventDocuments || k == EventOperability || k == EventNomenclatures
}

// Delivery is how a subscriber is notified (the FAQ's two ways).
type Delivery string

// The ways of delivery.
const (
	DeliveryEmail      Delivery = "email"            // „e-mail“
	DeliveryAttachment Delivery = "email-attachment" // „e-mail с прикачен файл“
)

// Valid reports whether d is a known way.
func (d Delivery) Valid() bool { return d == DeliveryEmail || d == DeliveryAttachment }

// Subscription is one user's subscription to one system.
type Subscription struct {
	ID          int64
	User        string // the subscriber's stable id (see notify.User); one subscription per (User, System)
	EIK         string // the operator of the user's certificate, when it names one
	System      string
	FirstName   string
	LastName    string
	Email       string
	Lang        string // "bg" or "en": the language of the messages
	Events      []EventKind
	Delivery    Delivery
	Active      bool
	Confirmed   bool   // the address is the certificate's, or its link was followed
	Token       string // the confirmation token while not confirmed ("" after)
	Unsubscribe string // the List-Unsubscribe token: ends this subscription only
	Quarantined time.Time
	Bounce      string // why the address is quarantined
	Created     time.Time
	Updated     time.Time
}

// Follows reports whether s follows k.
func (s *Subscription) Follows(k EventKind) bool {
	for _, e := range s.Events {
		if e == k {
			return true
		}
	}
	return false
}

// Validate checks the fields the store relies on (package notify checks the domain rules first, with
// messages for people).
func (s *Subscription) Validate() error {
	if s.User == "" {
		return invalid("subscription.user: empty")
	}
	if !ValidSystemCode(s.System) {
		return invalid("subscription.system: %q", s.System)
	}
	if _, err := mail.ParseAddress(s.Email); err != nil || strings.ContainsAny(s.Email, "<> ") {
		return invalid("subscription.email: %q", s.Email)
	}
	if len(s.Events) == 0 {
		return invalid("subscription.events: none")
	}
	for _, e := range s.Events {
		if !e.Valid() {
			return invalid("subscription.events: unknown %q", e)
		}
	}
	if !s.Delivery.Valid() {
		return invalid("subscription.delivery: unknown %q", s.Delivery)
	}
	if s.Delivery == DeliveryAttachment && s.Follows(EventOperability) {
		return invalid("subscription.delivery: no attachments with operability")
	}
	if s.Unsubscribe == "" {
		return invalid("subscription.unsubscribe: empty")
	}
	return nil
}

// SubscriptionFilter selects subscriptions; zero fields select all.
type SubscriptionFilter struct {
	User   string
	System string
	Email  string // compared without case
	Active bool   // only active, confirmed, not quarantined ones: those that receive messages
}

// Webhook is an operator's endpoint that receives a system's notices as signed JSON (for those who
// automate; docs/notices.md).
type Webhook struct {
	ID      int64
	User    string
	EIK     string
	System  string
	URL     string // https only
	Secret  string // the HMAC key of the signatures
	Events  []EventKind
	Active  bool
	Created time.Time
}

// Follows reports whether w follows k.
func (w *Webhook) Follows(k EventKind) bool {
	for _, e := range w.Events {
		if e == k {
			return true
		}
	}
	return false
}

// Validate checks the fields the store relies on.
func (w *Webhook) Validate() error {
	switch {
	case w.User == "":
		return invalid("webhook.user: empty")
	case !ValidSystemCode(w.System):
		return invalid("webhook.system: %q", w.System)
	case !strings.HasPrefix(w.URL, "https://") || len(w.URL) > 2048:
		return invalid("webhook.url: %q is not an https URL", w.URL)
	case len(w.Secret) < 16:
		return invalid("webhook.secret: too short")
	case len(w.Events) == 0:
		return invalid("webhook.events: none")
	}
	for _, e := range w.Events {
		if !e.Valid() {
			return invalid("webhook.events: unknown %q", e)
		}
	}
	return nil
}

// WebhookFilter selects webhooks; zero fields select all.
type WebhookFilter struct {
	User   string
	System string
	Active bool // only active ones
}

// NoticeKind is what a notice is about: one per event.
type NoticeKind string

// The kinds of notice, one per event of the FAQ.
const (
	NoticeDocument     NoticeKind = "document"
	NoticeOperability  NoticeKind = "operability"
	NoticeNomenclature NoticeKind = "nomenclature"
)

// Event gives the event that subscribers follow to receive notices of kind k.
func (k NoticeKind) Event() EventKind {
	switch k {
	case NoticeDocument:
		return EventDocuments
	case NoticeOperability:
		return EventOperability
	case NoticeNomenclature:
		return EventNomenclatures
	}
	return ""
}

// Action is what a revision does to its notice.
type Action string

// The actions. A notice starts with ActionPublish; a document or a nomenclature may be updated; an
// operability notice may be changed, cancelled or ended.
const (
	ActionPublish Action = "publish" // the first revision
	ActionUpdate  Action = "update"  // a new version of a document or nomenclature
	ActionChange  Action = "change"  // an operability window or text changes
	ActionCancel  Action = "cancel"  // a planned window is called off
	ActionEnd     Action = "end"     // the unavailability is over
)

// Revision is one published state of a notice: the whole notice as of then, not a difference, so that
// every message carries the notice's full text.
type Revision struct {
	Notice    int64 // 0 on the first Publish: the store assigns it
	Rev       int   // 1, 2, …
	System    string
	Kind      NoticeKind
	Action    Action
	Title     string
	Text      string
	TitleEN   string // optional English title and text for subscribers reading English
	TextEN    string
	Link      string // where the document or nomenclature is on the portal
	Planned   bool   // operability: a planned (not unplanned) unavailability
	Start     time.Time
	End       time.Time // zero: not known yet (unplanned)
	CodeList  string    // nomenclature: the code list (e.g. CL175)
	Version   string    // nomenclature: its version
	EUCommon  bool      // nomenclature: common to the EU (only those are sent)
	FileName  string    // the attachment, if any (document, nomenclature)
	FileType  string
	File      []byte
	Author    string // who published it
	Published time.Time
}

// Notice is a notice with its revisions, oldest first.
type Notice struct {
	ID        int64
	System    string
	Kind      NoticeKind
	Revisions []Revision
}

// Latest gives the notice's latest revision.
func (n *Notice) Latest() *Revision {
	if len(n.Revisions) == 0 {
		return nil
	}
	return &n.Revisions[len(n.Revisions)-1]
}

// NoticeFilter selects notices; zero fields select all.
type NoticeFilter struct {
	System string
	Kind   NoticeKind
	Limit  int
}

// OutboxKind is what an outbox row sends.
type OutboxKind string

// The kinds of outbox row.
const (
	OutboxNotice   OutboxKind = "notice"   // a revision of a notice
	OutboxReminder OutboxKind = "reminder" // a reminder before a planned window
	OutboxConfirm  OutboxKind = "confirm"  // the confirmation link of a new address
	OutboxWebhook  OutboxKind = "webhook"  // a revision to a webhook
	OutboxAlarm    OutboxKind = "alarm"    // a change of an alarm to a person of the console (чл. 28)
)

// OutboxState is where a row is in its delivery.
type OutboxState string

// The states of an outbox row: pending → sending → unsure → sent, with retries back to pending and
// failed or cancelled at the end. A row is only sent from sending; unsure marks the moment the message
// was complete but the server had not yet answered, so that a crash there is never followed by a second
// copy.
const (
	OutboxPending   OutboxState = "pending"
	OutboxSending   OutboxState = "sending"
	OutboxUnsure    OutboxState = "unsure"
	OutboxSent      OutboxState = "sent"
	OutboxFailed    OutboxState = "failed"
	OutboxCancelled OutboxState = "cancelled"
)

// OutboxItem is one message to one subscription, webhook or (for alarms) person.
type OutboxItem struct {
	ID           int64
	Key          string // unique and deterministic: the Message-ID's local part
	Kind         OutboxKind
	Notice       int64 // 0 for a confirmation
	Rev          int
	Subscription int64 // 0 for a webhook
	Webhook      int64 // the webhook of an OutboxWebhook row
	Alarm        int64 // the alarm of an OutboxAlarm row
	Entry        int   // the alarm's history entry (its Seq) an OutboxAlarm row tells of
	Person       int64 // the person of the console an OutboxAlarm row goes to
	State        OutboxState
	Attempts     int
	NextAttempt  time.Time
	ClaimedAt    time.Time
	Error        string // the last failure
	SentAt       time.Time
	Created      time.Time
}

// OutboxUpdate is the new state of a row and what goes with it.
type OutboxUpdate struct {
	State       OutboxState
	Attempts    int       // the count of attempts so far
	NextAttempt time.Time // for pending
	Error       string
	SentAt      time.Time // for sent
}

// OutboxFilter selects outbox rows; zero fields select all.
type OutboxFilter struct {
	ID           int64
	Notice       int64
	Subscription int64
	Alarm        int64
	State        OutboxState
}
