package wire

import (
	"errors"
	"net/http"

	"github.com/akciz/akciz/internal/i18n"
)

// ProblemType is the media type of the server's error answers (RFC 9457).
const ProblemType = "application/problem+json"

// Problem is the server's answer to a batch it refuses: an RFC 9457 problem document with the machine code
// and the exact seq concerned, so that the agent (and a person reading its log) know what to do.
type Problem struct {
	Type   string `json:"type"`             // "urn:akciz:problem:<code>"
	Title  string `json:"title"`            // the code's short description, in the language asked for
	Status int    `json:"status"`           // the HTTP status
	Detail string `json:"detail,omitempty"` // what exactly is wrong, in the language asked for
	Code   Code   `json:"code"`
	Seq    uint64 `json:"seq,omitempty"`    // the record or first record concerned
	Device string `json:"device,omitempty"` // the device concerned
	// Expected is the next seq the server expects from the device (for gap and replay: the agent resends
	// from there).
	Expected uint64 `json:"expected,omitempty"`
}

// Status is the HTTP status the server answers a code with (docs/protocol.md, "Errors").
func (c Code) Status() int {
	switch c {
	case CodeGap, CodeReplay, CodeReorder:
		return http.StatusConflict
	case CodeBadSignature, CodeAltered, CodeMalformed, CodeWrongDevice, CodeUnsupportedVersion:
		return http.StatusUnprocessableEntity
	case CodeUnknownCertificate, CodeExpiredCertificate, CodeWrongOperator:
		return http.StatusForbidden
	case CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// ProblemFor makes the problem document of err (an *Error; anything else is malformed) for device, in the
// language of p.
func ProblemFor(err error, device string, p *i18n.Printer) Problem {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Code: CodeMalformed, Msg: i18n.M("wire.problem.malformed", err.Error())}
	}
	return Problem{Type: "urn:akciz:problem:" + string(e.Code), Title: e.Code.Title(p),
		Status: e.Code.Status(), Detail: p.Msg(e.Msg), Code: e.Code, Seq: e.Seq, Device: device}
}

// Title is the code's short description in the language of p.
func (c Code) Title(p *i18n.Printer) string {
	key := "wire.code." + string(c)
	return p.T(key)
}
