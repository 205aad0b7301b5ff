#!/usr/bin/env bash
# instance-types.sh prints the instance-types.json that Karpenter's KWOK provider reads
# (INSTANCE_TYPES_FILE_PATH). It replaces the provider's made-up defaults (c-1x-amd64-linux
# in test-zone-a..d) with real EC2 names in us-west-2a/b/c, so NodeClaims look like EKS.
#
# Schema (sigs.k8s.io/karpenter/kwok/cloudprovider InstanceTypeOptions):
#   [{name, architecture, operatingSystems, resources, offerings: [{Price, Available, Requirements}]}]
# architecture must be a kubernetes.io/arch value (amd64, arm64), not x86_64: the provider
# puts it into a kubernetes.io/arch requirement as it is.
#
# On-demand prices are us-west-2 list prices (USD/hour, rounded); spot prices are a fixed
# fraction of them per zone, so the cheapest offering is deterministic (spot in us-west-2b).
set -euo pipefail
export LC_ALL=C

# name arch vcpu memory max-pods on-demand-price [gpus]
TYPES='
m5.large     amd64  2  8Gi   29  0.096
m5.xlarge    amd64  4  16Gi  58  0.192
m5.2xlarge   amd64  8  32Gi  58  0.384
m5.4xlarge   amd64  16 64Gi  234 0.768
m5a.large    amd64  2  8Gi   29  0.086
m5a.xlarge   amd64  4  16Gi  58  0.172
m5a.2xlarge  amd64  8  32Gi  58  0.344
m5a.4xlarge  amd64  16 64Gi  234 0.688
m6i.large    amd64  2  8Gi   29  0.096
m6i.xlarge   amd64  4  16Gi  58  0.192
m6i.2xlarge  amd64  8  32Gi  58  0.384
m6i.4xlarge  amd64  16 64Gi  234 0.768
m6g.large    arm64  2  8Gi   29  0.077
m6g.xlarge   arm64  4  16Gi  58  0.154
m6g.2xlarge  arm64  8  32Gi  58  0.308
m6g.4xlarge  arm64  16 64Gi  234 0.616
c5.large     amd64  2  4Gi   29  0.085
c5.xlarge    amd64  4  8Gi   58  0.170
c5.2xlarge   amd64  8  16Gi  58  0.340
c5.4xlarge   amd64  16 32Gi  234 0.680
c6g.large    arm64  2  4Gi   29  0.068
c6g.xlarge   arm64  4  8Gi   58  0.136
c6g.2xlarge  arm64  8  16Gi  58  0.272
c6g.4xlarge  arm64  16 32Gi  234 0.544
r5.large     amd64  2  16Gi  29  0.126
r5.xlarge    amd64  4  32Gi  58  0.252
r5.2xlarge   amd64  8  64Gi  58  0.504
r5.4xlarge   amd64  16 128Gi 234 1.008
t3.large     amd64  2  8Gi   35  0.0832
t3.xlarge    amd64  4  16Gi  58  0.1664
t3.2xlarge   amd64  8  32Gi  58  0.3328
g4dn.xlarge  amd64  4  16Gi  29  0.526  1
g4dn.2xlarge amd64  8  32Gi  29  0.752  1
g4dn.4xlarge amd64  16 64Gi  29  1.204  1
'

awk '
BEGIN {
	nzones = split("us-west-2a us-west-2b us-west-2c", zones, " ")
	split("0.38 0.34 0.41", spot, " ") # spot price as a fraction of on-demand, per zone
	printf "["
	n = 0
}
NF >= 6 {
	printf "%s\n  {\"name\": \"%s\", \"architecture\": \"%s\", \"operatingSystems\": [\"linux\"],\n", (n++ ? "," : ""), $1, $2
	printf "   \"resources\": {\"cpu\": \"%s\", \"memory\": \"%s\", \"pods\": \"%s\", \"ephemeral-storage\": \"20Gi\"%s},\n", \
		$3, $4, $5, (NF >= 7 ? sprintf(", \"nvidia.com/gpu\": \"%s\"", $7) : "")
	printf "   \"offerings\": ["
	for (z = 1; z <= nzones; z++) {
		offering("on-demand", zones[z], $6, z == 1)
		offering("spot", zones[z], $6 * spot[z], 0)
	}
	printf "\n   ]}"
}
function offering(ct, zone, price, first) {
	printf "%s\n    {\"Price\": %.4f, \"Available\": true, \"Requirements\": [", (first ? "" : ","), price
	printf "{\"key\": \"karpenter.sh/capacity-type\", \"operator\": \"In\", \"values\": [\"%s\"]}, ", ct
	printf "{\"key\": \"topology.kubernetes.io/zone\", \"operator\": \"In\", \"values\": [\"%s\"]}]}", zone
}
END { printf "\n]\n" }
' <<<"$TYPES"
