module github.com/hsmentropy/hsmentropy

go 1.26.0

require (
	github.com/miekg/pkcs11 v1.1.2
	github.com/prometheus/client_golang v1.25.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	golang.org/x/sys v0.50.0
)
