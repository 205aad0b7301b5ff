package translate

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/karpshift/karpshift/migrate/karpenter"
)

// Karpenter amiFamily values.
const (
	familyAL2          = "AL2"
	familyAL2023       = "AL2023"
	familyBottlerocket = "Bottlerocket"
	familyWindows2019  = "Windows2019"
	familyWindows2022  = "Windows2022"
	familyWindows2025  = "Windows2025"
	familyCustom       = "Custom"
)

// Variants of an EKS AMI type that add instance requirements.
const (
	variantNone   = ""
	variantNvidia = "nvidia"
	variantNeuron = "neuron"
	variantAL2GPU = "al2-gpu" // one AMI for NVIDIA and Inferentia/Trainium
)

// amiChoice is what an EKS amiType (or a launch template's image) becomes.
type amiChoice struct {
	family         string
	terms          []karpenter.AMISelectorTerm
	explicitFamily bool   // amiFamily must be written (no alias term)
	arch           string // amd64, arm64, or "" when Karpenter should detect it from the AMI
	os             string // linux or windows
	variant        string
	// needsMinor > 0 means the choice needs that Karpenter 1.x minor release.
	needsMinor int
	needsWhat  string
}

var (
	amiTypePattern  = regexp.MustCompile(`^(AL2|AL2023|BOTTLEROCKET)_(x86_64|ARM_64)(?:_(STANDARD|GPU|NVIDIA|NEURON))?(_FIPS)?$`)
	windowsPattern  = regexp.MustCompile(`^WINDOWS_(CORE|FULL)_(2019|2022|2025)_x86_64$`)
	eksReleaseDate  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+-([0-9]{8})$`)
	bottlerocketRel = regexp.MustCompile(`^v?([0-9]+\.[0-9]+\.[0-9]+)(?:-[0-9a-z]+)?$`)
	errUnknownAMI   = fmt.Errorf("unknown amiType")
)

// eksAMI maps an EKS managed node group amiType and releaseVersion (§2.2, §2.3).
// pinned reports whether the alias could be pinned to the release.
func eksAMI(amiType, release, k8s string, latest bool) (c amiChoice, pinned bool, err error) {
	if m := windowsPattern.FindStringSubmatch(amiType); m != nil {
		c = amiChoice{os: "linux", arch: "amd64"}
		c.os = "windows"
		c.family = "Windows" + m[2]
		if m[2] == "2025" {
			c.needsMinor, c.needsWhat = sinceWindows2025, "the Windows2025 AMI family"
		}
		if m[1] == "CORE" {
			c.terms = []karpenter.AMISelectorTerm{{Alias: strings.ToLower(c.family) + "@latest"}}
			return c, true, nil // Windows aliases only exist as @latest
		}
		// Aliases are Windows Server Core only; Full images are selected by name.
		c.explicitFamily = true
		c.terms = []karpenter.AMISelectorTerm{{Name: fmt.Sprintf("Windows_Server-%s-English-Full-EKS_Optimized-%s*", m[2], k8s), Owner: "amazon"}}
		return c, true, nil
	}
	m := amiTypePattern.FindStringSubmatch(amiType)
	if m == nil {
		return c, false, errUnknownAMI
	}
	c.os = "linux"
	c.arch = "amd64"
	if m[2] == "ARM_64" {
		c.arch = "arm64"
	}
	switch m[3] {
	case "GPU":
		c.variant = variantAL2GPU
	case "NVIDIA":
		c.variant = variantNvidia
	case "NEURON":
		c.variant = variantNeuron
	}
	var alias, ver string
	switch m[1] {
	case "AL2":
		c.family, alias = familyAL2, "al2"
		if r := eksReleaseDate.FindStringSubmatch(release); r != nil {
			ver = "v" + r[1]
		}
	case "AL2023":
		c.family, alias = familyAL2023, "al2023"
		if r := eksReleaseDate.FindStringSubmatch(release); r != nil {
			ver = "v" + r[1]
		}
	case "BOTTLEROCKET":
		c.family, alias = familyBottlerocket, "bottlerocket"
		if r := bottlerocketRel.FindStringSubmatch(release); r != nil {
			ver = "v" + r[1]
		}
	}
	pinned = ver != ""
	if latest || ver == "" {
		ver = "latest"
	}
	if m[4] != "" {
		// No alias covers FIPS images: select them through their SSM parameter
		// (karpenter-mapping.md §2.2; the path is not verified against AWS).
		c.explicitFamily = true
		c.needsMinor, c.needsWhat = sinceSSMParameter, "amiSelectorTerms[].ssmParameter (FIPS images have no alias)"
		variant := "aws-k8s-" + k8s
		if c.variant == variantNvidia {
			variant += "-nvidia"
		}
		arch := "x86_64"
		if c.arch == "arm64" {
			arch = "arm64"
		}
		sv := strings.TrimPrefix(ver, "v")
		c.terms = []karpenter.AMISelectorTerm{{SSMParameter: fmt.Sprintf("/aws/service/bottlerocket/%s-fips/%s/%s/image_id", variant, arch, sv)}}
		return c, pinned, nil
	}
	c.terms = []karpenter.AMISelectorTerm{{Alias: alias + "@" + ver}}
	return c, pinned, nil
}

// customAMI maps a launch template image: the id pins the exact AMI and the family is
// read from the user data, which decides how Karpenter bootstraps the node.
func customAMI(imageID, userData string, arch string) amiChoice {
	family := familyFromUserData(userData)
	c := amiChoice{
		family:         family,
		terms:          []karpenter.AMISelectorTerm{{ID: imageID}},
		explicitFamily: true,
		arch:           arch,
		os:             "linux",
	}
	if strings.HasPrefix(family, "Windows") {
		c.os = "windows"
	}
	return c
}

// familyFromUserData recognises the bootstrap a launch template's user data performs
// (karpenter-mapping.md §2.2, CUSTOM row).
func familyFromUserData(ud string) string {
	switch {
	case strings.Contains(ud, "/etc/eks/bootstrap.sh"):
		return familyAL2
	case strings.Contains(ud, "node.eks.aws/v1alpha1") || strings.Contains(ud, "application/node.eks.aws"):
		return familyAL2023
	case strings.Contains(ud, "[settings.kubernetes") || strings.Contains(ud, "settings.kubernetes."):
		return familyBottlerocket
	case strings.Contains(ud, "EKSBootstrapScriptFile") || strings.Contains(ud, "Start-EKSBootstrap.ps1"):
		return familyWindows2022
	}
	return familyCustom
}

// rootDevice is the AMI root device of a family.
func rootDevice(family string) string {
	if strings.HasPrefix(family, "Windows") {
		return "/dev/sda1"
	}
	return "/dev/xvda"
}
