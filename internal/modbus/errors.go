package modbus

import (
	"context"
	"errors"
)

// Errors a Client returns. Detail is wrapped around them: test with errors.Is.
var (
	// ErrTimeout: no (valid) answer came within the request timeout or the context's deadline. It
	// matches context.DeadlineExceeded under errors.Is, and its Timeout method reports true.
	ErrTimeout error = timeoutError{}
	// ErrBadCRC: an RTU frame arrived whose CRC does not match.
	ErrBadCRC = errors.New("modbus: bad crc")
	// ErrInvalidResponse: the answer is malformed or does not belong to the request (wrong unit,
	// function, length, byte count or echo); the detail says which.
	ErrInvalidResponse = errors.New("modbus: invalid response")
	// ErrInvalidRequest: the client refused to send a request outside the limits of its function code
	// (quantity, address range, value); nothing was sent.
	ErrInvalidRequest = errors.New("modbus: invalid request")
	// ErrClosed: the Client was closed.
	ErrClosed = errors.New("modbus: client closed")
)

type timeoutError struct{}

func (timeoutError) Error() string   { return "modbus: request timed out" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
