// test-server: the one static program in the test image. Without arguments it serves HTTP;
// with a subcommand it is the small tool a test runs through kubectl exec (the image has no
// shell). Subcommands: serve, get URL, kube-get PATH, cat FILE, env NAME, write FILE, exit CODE.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		args = []string{"serve"}
	}
	if err := run(args[0], args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(command string, args []string) error {
	arg := func() string {
		if len(args) == 0 {
			fmt.Fprintf(os.Stderr, "%s needs an argument\n", command)
			os.Exit(2)
		}
		return args[0]
	}
	switch command {
	case "serve":
		return serve()
	case "get":
		return get(arg())
	case "kube-get":
		return kubeGet(arg())
	case "cat":
		data, err := os.ReadFile(arg())
		if err == nil {
			_, err = os.Stdout.Write(data)
		}
		return err
	case "env":
		value, ok := os.LookupEnv(arg())
		if !ok {
			return fmt.Errorf("%s is not set", arg())
		}
		fmt.Println(value)
		return nil
	case "write":
		return os.WriteFile(arg(), []byte("written\n"), 0o644)
	case "exit":
		code, err := strconv.Atoi(arg())
		if err != nil {
			return err
		}
		fmt.Printf("exiting with %d\n", code)
		os.Exit(code)
	}
	return fmt.Errorf("unknown command %q (serve, get, kube-get, cat, env, write, exit)", command)
}

// serve answers / with the pod's hostname and MESSAGE, and /healthz with ok, on $PORT (8080).
func serve() error {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	hostname, _ := os.Hostname()
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Printf("%s %s from %s\n", r.Method, r.URL.Path, r.RemoteAddr)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"hostname": hostname, "message": os.Getenv("MESSAGE")})
	})
	fmt.Printf("test-server listening on :%s\n", port)
	server := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	return server.ListenAndServe()
}

// get prints the body of one GET, failing on a transport error or a non-2xx status.
func get(url string) error {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	os.Stdout.Write(body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

const serviceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// kubeGet GETs path from the API server as an in-cluster client does: through the kubernetes
// Service (KUBERNETES_SERVICE_HOST/PORT), trusting the mounted CA, with the pod's token.
func kubeGet(path string) error {
	token, err := os.ReadFile(serviceAccountDir + "/token")
	if err != nil {
		return err
	}
	ca, err := os.ReadFile(serviceAccountDir + "/ca.crt")
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return fmt.Errorf("no certificate in %s/ca.crt", serviceAccountDir)
	}
	client := http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	url := fmt.Sprintf("https://%s:%s%s", os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"), path)
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+string(token))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	os.Stdout.Write(body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}
