module genome-operator.local/test-server

go 1.26
