package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/akciz/akciz/internal/i18n"
	"github.com/akciz/akciz/internal/store"
)

// Webhooks follow the Standard Webhooks convention (standardwebhooks.com): a JSON POST with the headers
// webhook-id (the outbox row's key: the same on every retry, for the receiver to drop repeats),
// webhook-timestamp (Unix seconds) and webhook-signature ("v1," and the base64 HMAC-SHA256 of
// "id.timestamp.body" under the secret "whsec_<base64 key>"). Delivery is at least once: a receiver
// that saw a webhook-id already ignores it.

// maxWebhookResponse bounds what is read of a receiver's answer (only its status matters).
const maxWebhookResponse = 4 << 10

// WebhookForm is what an operator gives for a webhook.
type WebhookForm struct {
	System string            `json:"system"`
	URL    string            `json:"url"`
	Events []store.EventKind `json:"events"`
}

// AddWebhook registers a webhook of u for a system u may follow, with a new secret (shown once, in
// the result).
func (s *Service) AddWebhook(ctx context.Context, u User, f WebhookForm) (store.Webhook, error) {
	if u.ID == "" {
		return store.Webhook{}, fmt.Errorf("notify: webhook: %w: no user", ErrForbidden)
	}
	allowed, err := s.Systems(ctx, u)
	if err != nil {
		return store.Webhook{}, fmt.Errorf("notify: webhook: %w", err)
	}
	var errs Errors
	add := func(field, key string, args ...any) { errs = append(errs, FieldError{field, i18n.M(key, args...)}) }
	switch {
	case f.System == "":
		add("system", "notify.field.system_required")
	case !has(allowed, f.System):
		add("system", "notify.field.system_denied", f.System)
	}
	if pu, err := url.Parse(f.URL); err != nil || pu.Scheme != "https" || pu.Host == "" || pu.User != nil || len(f.URL) > 2048 {
		add("url", "notify.field.webhook_url")
	}
	seen := map[store.EventKind]bool{}
	for _, e := range f.Events {
		if !e.Valid() || seen[e] {
			add("events", "notify.field.event_unknown", string(e))
		}
		seen[e] = true
	}
	if len(f.Events) == 0 {
		add("events", "notify.field.events_required")
	}
	if len(errs) > 0 {
		return store.Webhook{}, errs
	}
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return store.Webhook{}, err
	}
	w := store.Webhook{User: u.ID, EIK: u.EIK, System: f.System, URL: f.URL, Events: f.Events, Active: true, Created: s.now(),
		Secret: "whsec_" + base64.StdEncoding.EncodeToString(key[:])}
	if err := s.s.PutWebhook(ctx, &w); err != nil {
		return store.Webhook{}, fmt.Errorf("notify: webhook: %w", err)
	}
	return w, nil
}

// Webhooks gives u's webhooks.
func (s *Service) Webhooks(ctx context.Context, u User) ([]store.Webhook, error) {
	return s.s.Webhooks(ctx, store.WebhookFilter{User: u.ID})
}

// SetWebhookActive activates or deactivates u's webhook id.
func (s *Service) SetWebhookActive(ctx context.Context, u User, id int64, active bool) (store.Webhook, error) {
	w, err := s.s.Webhook(ctx, id)
	if err == nil && w.User != u.ID {
		err = fmt.Errorf("webhook %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return w, fmt.Errorf("notify: %w", err)
	}
	w.Active = active
	if err := s.s.PutWebhook(ctx, &w); err != nil {
		return w, fmt.Errorf("notify: webhook: %w", err)
	}
	return w, nil
}

// WebhookPayload is the body of a webhook: the notice's revision in full.
type WebhookPayload struct {
	Type      string       `json:"type"` // "notice.published", "notice.updated", "notice.changed", "notice.cancelled", "notice.ended"
	Timestamp time.Time    `json:"timestamp"`
	Notice    int64        `json:"notice"`
	System    string       `json:"system"`
	Kind      string       `json:"kind"`
	URL       string       `json:"url"`
	Revision  revisionJSON `json:"revision"`
}

var webhookTypes = map[store.Action]string{store.ActionPublish: "notice.published", store.ActionUpdate: "notice.updated",
	store.ActionChange: "notice.changed", store.ActionCancel: "notice.cancelled", store.ActionEnd: "notice.ended"}

// sign gives the webhook-signature of body under secret (Standard Webhooks, v1).
func sign(secret, id string, ts int64, body []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil)), nil
}

// VerifyWebhook checks a received webhook: the signature over its id, timestamp and body under secret,
// and a timestamp within tolerance of now (against replays). For receivers, and the tests.
func VerifyWebhook(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, tsText, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || tsText == "" || sigs == "" || len(id) > 256 || len(sigs) > 4096 {
		return errors.New("webhook: missing or oversized webhook-id, webhook-timestamp or webhook-signature")
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook: timestamp %q", tsText)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook: timestamp %d is %v away from now", ts, d)
	}
	want, err := sign(secret, id, ts, body)
	if err != nil {
		return err
	}
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook: no valid signature")
}

// hook delivers one webhook row: 2xx is sent; 410 deactivates the webhook; another 4xx (but 408, 429)
// fails it; anything else is retried with the back-off.
func (w *Sender) hook(ctx context.Context, item store.OutboxItem, read *cache) (bool, error) {
	svc := w.svc
	item.Attempts++
	wh, err := svc.s.Webhook(ctx, item.Webhook)
	if err != nil {
		return false, w.fail(ctx, item, store.OutboxSending, err.Error(), false)
	}
	if !wh.Active {
		return false, svc.s.MoveOutbox(ctx, item.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxCancelled,
			Attempts: item.Attempts - 1, Error: "webhook inactive"})
	}
	n, err := read.notice(ctx, item.Notice)
	if err != nil || item.Rev < 1 || item.Rev > len(n.Revisions) {
		return false, w.fail(ctx, item, store.OutboxSending, fmt.Sprintf("notice %d revision %d: %v", item.Notice, item.Rev, err), false)
	}
	p := i18n.For(i18n.BG)
	nj := svc.noticeJSON(p, &n)
	now := svc.cfg.Clock.Now()
	payload := WebhookPayload{Type: webhookTypes[n.Revisions[item.Rev-1].Action], Timestamp: now.UTC(), Notice: n.ID,
		System: n.System, Kind: string(n.Kind), URL: svc.noticeURL(n.ID), Revision: nj.Revisions[item.Rev-1]}
	body, err := json.Marshal(payload)
	if err != nil {
		return false, err
	}
	sig, err := sign(wh.Secret, item.Key, now.Unix(), body)
	if err != nil {
		return false, w.fail(ctx, item, store.OutboxSending, err.Error(), false)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, wh.URL, bytes.NewReader(body))
	if err != nil {
		return false, w.fail(ctx, item, store.OutboxSending, err.Error(), false)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "akciz-notices/1")
	req.Header.Set("webhook-id", item.Key)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := w.HTTP.Do(req)
	if err != nil {
		return false, w.retry(ctx, item, store.OutboxSending, err.Error())
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookResponse))
	resp.Body.Close()
	status := fmt.Sprintf("HTTP %d", resp.StatusCode)
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return true, svc.s.MoveOutbox(ctx, item.ID, store.OutboxSending, store.OutboxUpdate{State: store.OutboxSent,
			Attempts: item.Attempts, SentAt: svc.now()})
	case c == http.StatusGone:
		wh.Active = false
		if err := svc.s.PutWebhook(ctx, &wh); err != nil {
			return false, err
		}
		return false, w.fail(ctx, item, store.OutboxSending, status+": webhook deactivated", false)
	case c >= 400 && c < 500 && c != http.StatusRequestTimeout && c != http.StatusTooManyRequests:
		return false, w.fail(ctx, item, store.OutboxSending, status, false)
	}
	return false, w.retry(ctx, item, store.OutboxSending, status)
}

// webhookClient is the default client of webhooks: bounded in time, not following redirects (a
// receiver that moved says so with a new URL, not by sending our POST elsewhere).
func webhookClient() *http.Client {
	// Operators name the address: the server must not become their way into the agency's own network
	// (SSRF). The check is on the address actually dialled, after DNS, so a name that resolves (or
	// rebinds) to an internal address is refused too; no proxy, which would dial for us.
	d := &net.Dialer{Timeout: 10 * time.Second, Control: publicOnly}
	t := &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: 10 * time.Second, ForceAttemptHTTP2: true,
		MaxIdleConns: 10, IdleConnTimeout: 90 * time.Second}
	return &http.Client{Timeout: 15 * time.Second, Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// cgnat is the shared address space of carriers (RFC 6598), not reachable from the Internet either.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// publicAddr reports whether a is an address on the public Internet: not loopback, private (RFC 1918,
// unique local), link-local (cloud metadata services live there), shared, multicast or unspecified.
func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() && !cgnat.Contains(a)
}

// publicOnly is the webhook dialer's check of every address it is about to connect to.
func publicOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook: dial %s: %w", address, err)
	}
	if !publicAddr(ap.Addr()) {
		return fmt.Errorf("webhook: dial %s: not a public address", address)
	}
	return nil
}
