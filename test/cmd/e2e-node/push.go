package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/signature"
	"go.podman.io/image/v5/types"

	"crio-credential-provider/test/internal/nodeapi"
)

// writeLayout writes a one-layer OCI image layout (tag "latest") whose layer
// holds /e2e-origin and whose config carries the label e2e.origin.
func writeLayout(dir, origin string) error {
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	body := []byte(origin + "\n")
	mtime := time.Unix(1700000000, 0)
	if err := tw.WriteHeader(&tar.Header{Name: "e2e-origin", Mode: 0o644, Size: int64(len(body)), ModTime: mtime, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(body); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	diffID := sha256.Sum256(tarBuf.Bytes())
	var gzBuf bytes.Buffer
	gz := gzip.NewWriter(&gzBuf)
	if _, err := gz.Write(tarBuf.Bytes()); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	put := func(b []byte) (string, error) {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		return "sha256:" + h, os.WriteFile(filepath.Join(blobs, h), b, 0o644)
	}
	layerDigest, err := put(gzBuf.Bytes())
	if err != nil {
		return err
	}
	config, _ := json.Marshal(map[string]any{
		"created":      mtime.UTC().Format(time.RFC3339),
		"architecture": "amd64",
		"os":           "linux",
		"config":       map[string]any{"Labels": map[string]string{"e2e.origin": origin}, "Cmd": []string{"/e2e-origin"}},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + hex.EncodeToString(diffID[:])}},
	})
	configDigest, err := put(config)
	if err != nil {
		return err
	}
	manifest, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": configDigest, "size": len(config)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
			"digest": layerDigest, "size": gzBuf.Len()}},
	})
	manifestDigest, err := put(manifest)
	if err != nil {
		return err
	}
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"manifests": []any{map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json",
			"digest": manifestDigest, "size": len(manifest),
			"annotations": map[string]string{"org.opencontainers.image.ref.name": "latest"}}},
	})
	if err := os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
}

func insecurePolicy() (*signature.PolicyContext, error) {
	return signature.NewPolicyContext(&signature.Policy{
		Default: signature.PolicyRequirements{signature.NewPRInsecureAcceptAnything()},
	})
}

func runPush() error {
	var req nodeapi.PushRequest
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		return fmt.Errorf("decode push request: %w", err)
	}
	tmp, err := os.MkdirTemp("", "e2e-push-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := writeLayout(tmp, req.Origin); err != nil {
		return err
	}
	src, err := layout.ParseReference(tmp + ":latest")
	if err != nil {
		return err
	}
	pc, err := insecurePolicy()
	if err != nil {
		return err
	}
	defer pc.Destroy() //nolint:errcheck
	sys := &types.SystemContext{
		DockerPerHostCertDirPath: req.CertsDir,
		// No registries.conf, no user auth files: push exactly where asked.
		SystemRegistriesConfPath:    filepath.Join(tmp, "registries.conf"),
		SystemRegistriesConfDirPath: filepath.Join(tmp, "registries.conf.d"),
		AuthFilePath:                filepath.Join(tmp, "auth.json"),
		BlobInfoCacheDir:            tmp,
		RegistriesDirPath:           tmp,
	}
	if err := os.WriteFile(sys.SystemRegistriesConfPath, nil, 0o644); err != nil {
		return err
	}
	if req.Username != "" {
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: req.Username, Password: req.Password}
	}
	if req.Insecure {
		sys.DockerInsecureSkipTLSVerify = types.OptionalBoolTrue
	}
	for _, d := range req.Destinations {
		dst, err := docker.ParseReference("//" + d)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err = copy.Image(ctx, pc, dst, src, &copy.Options{DestinationCtx: sys, SourceCtx: sys})
		cancel()
		if err != nil {
			return fmt.Errorf("push %s: %w", d, err)
		}
	}
	return nil
}
