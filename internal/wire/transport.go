package wire

// The names of the transport (docs/protocol.md, "Transport"), shared by the agent and the server so that
// they cannot drift apart. ProblemType is in problem.go.
const (
	// BatchesPath is where the agent POSTs a batch file.
	BatchesPath = "/api/v1/batches"
	// BatchType is the Content-Type of a batch file in a request.
	BatchType = "application/vnd.akciz.batch+gzip"
	// ReceiptType is the Content-Type of a receipt in an answer.
	ReceiptType = "application/vnd.akciz.receipt+json"
	// TreeSizeHeader is the request header with the size of the last checkpoint the agent verified; the
	// receipt then carries a consistency proof from that size.
	TreeSizeHeader = "Akciz-Tree-Size"
	// BatchFileExt is the file name extension of exported batch files.
	BatchFileExt = ".akb"
)
