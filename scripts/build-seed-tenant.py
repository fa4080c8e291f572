#!/usr/bin/env python3
"""Build the deterministic seed-tenant fixture (a tenantgen baseline directory).

What it builds
--------------
A synthetic Azure tenant graph, written in the tenantgen directory format (docs/format.md:
manifest.json, headers/<group>.csv, data/<group>.part-0000.csv) that `neo4j-admin database import`
and tenantgen's own reader load. It stands in for the real ATG (Azure Tenant Grapher) graph on which
the founding `atg scale-up template` run was measured, so tests and benchmarks can start from the same
shape without access to a real tenant.

Why the numbers are what they are
---------------------------------
Every count reproduces the "before" column of the seed run recorded in the ATG scale-up reference
(section 8, "The seed run, in numbers"; schema in section 2, ids and the type->prefix table in
section 3):

* 7,341 nodes = 4,092 abstracted :Resource (2,046 real + 2,046 synthetic copies left by an earlier
  2x template run) + 2,216 :Resource:Original (the 2,046 originals of the real abstracted ones and
  170 originals without a twin) + 1,033 others (1 tenant, 12 subscriptions, 960 resource groups,
  20 regions, 40 tags).
* 6,825 relationships = CONTAINS 4,431 (960 subscription->RG, 2,216 RG->Original, 1,255
  resource->resource: 47 real base->base VNet->subnet edges, their 47 cross-product clones from the
  earlier 2x run, 1,161 among Originals) + LOCATED_IN 2,144 + SCAN_SOURCE_NODE 202 + TAGGED_WITH 48.
  The 47 base->base edges are what made the f=10 run add 47 x 81 = 3,807 CONTAINS edges.
* The 30 largest resource types have the exact real counts of the reference's per-type table
  (1,773 of 2,046); the other 273 real resources spread over 68 more real Azure types.

`--scale K` multiplies every count by K (tenants, regions and tags too), keeping the shape.

Determinism: every "random" choice comes from sha256/blake2b of a descriptive string; nothing uses
hash(), set iteration order or the clock, so two runs produce byte-identical directories.
"""

import argparse
import csv
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OP_ID = "scale-20251111T191612-d2dcd199"
OP_TS = "2025-11-11T19:16:12.482113"
LAYER_CREATED_AT = "2025-11-20T10:02:11.734Z"

# ---------------------------------------------------------------- deterministic randomness

def h(*parts) -> int:
    """A 256-bit integer from sha256 of the parts joined by '|'."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest(), "big")

def hexd(n, *parts) -> str:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=32).hexdigest()[:n]

def pct(*parts) -> int:
    """0..99"""
    return h(*parts) % 100

def pick(seq, *parts):
    return seq[h(*parts) % len(seq)]

def pick_skewed(seq, *parts):
    """Like pick, but earlier elements are more likely (min of two draws)."""
    return seq[min(h("a", *parts) % len(seq), h("b", *parts) % len(seq))]

def guid(*parts) -> str:
    x = hexd(32, "guid", *parts)
    return f"{x[:8]}-{x[8:12]}-4{x[13:16]}-{'89ab'[int(x[16], 16) % 4]}{x[17:20]}-{x[20:32]}"

def dt(*parts, day0=8, days=3) -> str:
    """A datetime in [2025-11-{day0}, +days) with milliseconds, e.g. 2025-11-10T14:03:27.512Z."""
    v = h("dt", *parts)
    s = v % (days * 86400)
    return (f"2025-11-{day0 + s // 86400:02d}T{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:"
            f"{s % 60:02d}.{v // 86400 % 1000:03d}Z")

def spread(total, keys, lo, hi, salt):
    """Split total over keys unevenly (each in [lo, hi]), exactly and deterministically."""
    assert len(keys) * lo <= total <= len(keys) * hi, (salt, total, len(keys))
    counts = {k: lo for k in keys}
    weight = {k: 1 + (h(salt, k) % 40) ** 2 for k in keys}
    rem = total - len(keys) * lo
    while rem > 0:
        open_ = [k for k in keys if counts[k] < hi]
        W = sum(weight[k] for k in open_)
        given = 0
        for k in open_:
            add = min(hi - counts[k], rem * weight[k] // W, rem - given)
            counts[k] += add
            given += add
        if given == 0:  # hand out single units, heaviest first
            for k in sorted(open_, key=lambda k: (-weight[k], k))[:rem]:
                counts[k] += 1
                given += 1
        rem -= given
    assert sum(counts.values()) == total
    return counts

# ---------------------------------------------------------------- vocabulary

# Real Azure regions (code, display name); the first 20 are the seed's, most used first.
REGIONS = [
    ("westeurope", "West Europe"), ("eastus", "East US"), ("northeurope", "North Europe"),
    ("eastus2", "East US 2"), ("westus2", "West US 2"), ("uksouth", "UK South"),
    ("germanywestcentral", "Germany West Central"), ("swedencentral", "Sweden Central"),
    ("centralus", "Central US"), ("switzerlandnorth", "Switzerland North"),
    ("francecentral", "France Central"), ("southeastasia", "Southeast Asia"),
    ("japaneast", "Japan East"), ("australiaeast", "Australia East"),
    ("westus3", "West US 3"), ("canadacentral", "Canada Central"),
    ("southcentralus", "South Central US"), ("centralindia", "Central India"),
    ("brazilsouth", "Brazil South"), ("northcentralus", "North Central US"),
    ("westus", "West US"), ("ukwest", "UK West"), ("canadaeast", "Canada East"),
    ("westcentralus", "West Central US"), ("eastasia", "East Asia"), ("japanwest", "Japan West"),
    ("koreacentral", "Korea Central"), ("koreasouth", "Korea South"),
    ("australiasoutheast", "Australia Southeast"), ("australiacentral", "Australia Central"),
    ("australiacentral2", "Australia Central 2"), ("southindia", "South India"),
    ("westindia", "West India"), ("francesouth", "France South"),
    ("germanynorth", "Germany North"), ("switzerlandwest", "Switzerland West"),
    ("norwayeast", "Norway East"), ("norwaywest", "Norway West"), ("polandcentral", "Poland Central"),
    ("italynorth", "Italy North"), ("spaincentral", "Spain Central"),
    ("uaenorth", "UAE North"), ("uaecentral", "UAE Central"), ("qatarcentral", "Qatar Central"),
    ("israelcentral", "Israel Central"), ("southafricanorth", "South Africa North"),
    ("southafricawest", "South Africa West"), ("brazilsoutheast", "Brazil Southeast"),
    ("mexicocentral", "Mexico Central"), ("newzealandnorth", "New Zealand North"),
    ("jioindiawest", "Jio India West"), ("jioindiacentral", "Jio India Central"),
    ("indonesiacentral", "Indonesia Central"), ("malaysiawest", "Malaysia West"),
    ("chilecentral", "Chile Central"), ("austriaeast", "Austria East"),
    ("belgiumcentral", "Belgium Central"), ("eastus2euap", "East US 2 EUAP"),
    ("centraluseuap", "Central US EUAP"), ("denmarkeast", "Denmark East"),
]

# The 30 largest types with their exact real counts (ATG scale-up reference, section 8).
TOP_TYPES = [
    ("Microsoft.Network/virtualNetworks", 308), ("Microsoft.Network/networkInterfaces", 171),
    ("Microsoft.ManagedIdentity/userAssignedIdentities", 113),
    ("Microsoft.Network/networkSecurityGroups", 112), ("Microsoft.Network/subnets", 106),
    ("Microsoft.Compute/disks", 102), ("Microsoft.Storage/storageAccounts", 91),
    ("Microsoft.Network/publicIPAddresses", 81), ("Microsoft.KeyVault/vaults", 78),
    ("Microsoft.Compute/virtualMachines", 77), ("Microsoft.Network/privateEndpoints", 71),
    ("Microsoft.Insights/dataCollectionRules", 47), ("Microsoft.App/containerApps", 37),
    ("Microsoft.OperationalInsights/workspaces", 34),
    ("Microsoft.Network/privateDnsZones/virtualNetworkLinks", 29),
    ("Microsoft.Network/bastionHosts", 28), ("microsoft.alertsmanagement/smartDetectorAlertRules", 28),
    ("Microsoft.Compute/virtualMachineScaleSets", 26), ("Microsoft.ContainerService/managedClusters", 26),
    ("Microsoft.CognitiveServices/accounts", 25), ("Microsoft.ContainerRegistry/registries", 24),
    ("Microsoft.Compute/virtualMachines/extensions", 23), ("Microsoft.Insights/components", 21),
    ("Microsoft.Compute/virtualMachines/runCommands", 21), ("Microsoft.EventHub/namespaces", 21),
    ("Microsoft.Compute/snapshots", 17), ("Microsoft.Network/privateDnsZones", 16),
    ("Microsoft.Insights/metricalerts", 14), ("Microsoft.Insights/actiongroups", 13),
    ("Microsoft.Automation/automationAccounts/runbooks", 13),
]
LONG_TAIL_REAL = 273
EXTRA_ORIGINALS = 170

# 68 further real types for the long tail (1-12 real resources each at scale 1).
TAIL_TYPES = """Microsoft.Web/sites Microsoft.Web/serverfarms Microsoft.Sql/servers
Microsoft.Sql/servers/databases Microsoft.DBforPostgreSQL/flexibleServers
Microsoft.DocumentDB/databaseAccounts Microsoft.Cache/redis Microsoft.Network/loadBalancers
Microsoft.Network/applicationGateways Microsoft.Network/routeTables Microsoft.Network/natGateways
Microsoft.Network/virtualNetworkGateways Microsoft.Network/connections
Microsoft.Network/localNetworkGateways Microsoft.Network/dnsZones Microsoft.Network/firewallPolicies
Microsoft.Network/azureFirewalls Microsoft.Network/networkWatchers Microsoft.Network/frontDoors
Microsoft.Cdn/profiles Microsoft.ServiceBus/namespaces Microsoft.EventGrid/topics
Microsoft.EventGrid/systemTopics Microsoft.Logic/workflows Microsoft.DataFactory/factories
Microsoft.Databricks/workspaces Microsoft.Synapse/workspaces Microsoft.MachineLearningServices/workspaces
Microsoft.Search/searchServices Microsoft.SignalRService/SignalR Microsoft.ApiManagement/service
Microsoft.Devices/IotHubs Microsoft.Batch/batchAccounts Microsoft.RecoveryServices/vaults
Microsoft.Compute/availabilitySets Microsoft.Compute/images Microsoft.Compute/galleries
Microsoft.Compute/sshPublicKeys Microsoft.Compute/diskEncryptionSets
Microsoft.ContainerInstance/containerGroups Microsoft.App/managedEnvironments Microsoft.Web/staticSites
Microsoft.Web/certificates Microsoft.Insights/scheduledqueryrules Microsoft.Insights/activityLogAlerts
Microsoft.Insights/workbooks Microsoft.Insights/dataCollectionEndpoints
Microsoft.OperationsManagement/solutions Microsoft.Portal/dashboards Microsoft.Automation/automationAccounts
Microsoft.Storage/storageAccounts/blobServices Microsoft.Sql/servers/elasticPools
Microsoft.DBforMySQL/flexibleServers Microsoft.Kusto/clusters Microsoft.PowerBIDedicated/capacities
Microsoft.Maps/accounts Microsoft.Communication/communicationServices Microsoft.HybridCompute/machines
Microsoft.Resources/deploymentScripts Microsoft.NetApp/netAppAccounts Microsoft.Network/ipGroups
Microsoft.Network/privateLinkServices Microsoft.Network/trafficManagerProfiles
Microsoft.Storage/storageAccounts/fileServices Microsoft.Network/ddosProtectionPlans
Microsoft.Network/networkWatchers/flowLogs Microsoft.AppConfiguration/configurationStores
Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies""".split()

# Exact-case type -> prefix table (reference section 3.3); anything else -> "resource".
PREFIX = {f"Microsoft.{k}": v for k, v in {
    "Compute/virtualMachines": "vm", "Compute/disks": "disk", "Compute/availabilitySets": "avset",
    "Compute/virtualMachineScaleSets": "vmss", "Compute/images": "image", "Compute/snapshots": "snapshot",
    "Network/virtualNetworks": "vnet", "Network/subnets": "subnet", "Network/virtualNetworks/subnets": "subnet",
    "Network/networkSecurityGroups": "nsg", "Network/publicIPAddresses": "pip",
    "Network/networkInterfaces": "nic", "Network/loadBalancers": "lb", "Network/applicationGateways": "appgw",
    "Network/virtualNetworkGateways": "vnetgw", "Network/localNetworkGateways": "localgw",
    "Network/connections": "conn", "Network/routeTables": "rt", "Network/privateDnsZones": "pdns",
    "Network/privateEndpoints": "pe", "Storage/storageAccounts": "storage",
    "Storage/storageAccounts/blobServices": "blob", "Storage/storageAccounts/fileServices": "file",
    "Storage/storageAccounts/queueServices": "queue", "Storage/storageAccounts/tableServices": "table",
    "Sql/servers": "sql", "Sql/servers/databases": "sqldb", "DBforMySQL/servers": "mysql",
    "DBforPostgreSQL/servers": "postgres", "DocumentDB/databaseAccounts": "cosmos", "Cache/redis": "redis",
    "KeyVault/vaults": "kv", "ManagedIdentity/userAssignedIdentities": "identity",
    "Security/securityContacts": "seccontact", "Web/sites": "app", "Web/serverfarms": "appplan",
    "Web/hostingEnvironments": "ase", "ContainerRegistry/registries": "acr",
    "ContainerService/managedClusters": "aks", "ContainerInstance/containerGroups": "aci",
    "Insights/components": "appinsights", "Insights/workspaces": "workspace",
    "OperationalInsights/workspaces": "loganalytics", "Automation/automationAccounts": "automation",
    "DataFactory/factories": "adf", "Databricks/workspaces": "databricks", "Synapse/workspaces": "synapse",
    "Devices/IotHubs": "iothub", "EventHub/namespaces": "eventhub", "ServiceBus/namespaces": "servicebus",
    "Resources/resourceGroups": "rg", "Resources/subscriptions": "sub", "Resources/deployments": "deployment",
}.items()}

def prefix_of(rtype):
    return PREFIX.get(rtype, "resource")

# Nested ARM types: child type -> (parent type, id segment, at most one per parent named "default")
NESTED = {
    "Microsoft.Network/subnets": ("Microsoft.Network/virtualNetworks", "subnets", False),
    "Microsoft.Network/privateDnsZones/virtualNetworkLinks": ("Microsoft.Network/privateDnsZones", "virtualNetworkLinks", False),
    "Microsoft.Compute/virtualMachines/extensions": ("Microsoft.Compute/virtualMachines", "extensions", False),
    "Microsoft.Compute/virtualMachines/runCommands": ("Microsoft.Compute/virtualMachines", "runCommands", False),
    "Microsoft.Automation/automationAccounts/runbooks": ("Microsoft.Automation/automationAccounts", "runbooks", False),
    "Microsoft.Storage/storageAccounts/blobServices": ("Microsoft.Storage/storageAccounts", "blobServices", True),
    "Microsoft.Storage/storageAccounts/fileServices": ("Microsoft.Storage/storageAccounts", "fileServices", True),
    "Microsoft.Sql/servers/databases": ("Microsoft.Sql/servers", "databases", False),
    "Microsoft.Sql/servers/elasticPools": ("Microsoft.Sql/servers", "elasticPools", False),
    "Microsoft.Network/networkWatchers/flowLogs": ("Microsoft.Network/networkWatchers", "flowLogs", False),
}
# Deployed-with types: the child lives in its owner's RG and location; owner CONTAINS child.
OWNED = {
    "Microsoft.Insights/components": ["Microsoft.OperationalInsights/workspaces"],
    "microsoft.alertsmanagement/smartDetectorAlertRules": ["Microsoft.Insights/components"],
    "Microsoft.Insights/dataCollectionRules": ["Microsoft.OperationalInsights/workspaces"],
    "Microsoft.App/containerApps": ["Microsoft.App/managedEnvironments"],
    "Microsoft.Web/sites": ["Microsoft.Web/serverfarms"],
    "Microsoft.OperationsManagement/solutions": ["Microsoft.OperationalInsights/workspaces"],
    "Microsoft.Compute/virtualMachineScaleSets": ["Microsoft.ContainerService/managedClusters"],
    "Microsoft.Network/publicIPAddresses": ["Microsoft.Network/bastionHosts", "Microsoft.Network/loadBalancers",
        "Microsoft.Network/applicationGateways", "Microsoft.Network/virtualNetworkGateways",
        "Microsoft.Network/azureFirewalls", "Microsoft.Network/natGateways"],
}
# Edge priority of looser ownership (default 2); the lowest priorities are dropped first.
OWNED_PRIORITY = {"Microsoft.Insights/components": 3, "Microsoft.Insights/dataCollectionRules": 4}
# Types placed in a subnet (subnet CONTAINS them); NICs and private endpoints are handled alongside.
IN_SUBNET = ["Microsoft.Network/networkInterfaces", "Microsoft.Network/privateEndpoints",
             "Microsoft.Network/bastionHosts", "Microsoft.Network/applicationGateways",
             "Microsoft.Network/azureFirewalls", "Microsoft.ContainerInstance/containerGroups",
             "Microsoft.Network/virtualNetworkGateways"]
# Location "global" (or none), most canonical first; exactly 72 per scale unit get it.
GLOBAL_TYPES = ["microsoft.alertsmanagement/smartDetectorAlertRules", "Microsoft.Insights/actiongroups",
                "Microsoft.Network/privateDnsZones", "Microsoft.Insights/metricalerts",
                "Microsoft.Insights/activityLogAlerts", "Microsoft.Network/dnsZones",
                "Microsoft.Network/frontDoors", "Microsoft.Cdn/profiles",
                "Microsoft.Network/trafficManagerProfiles",
                "Microsoft.Network/privateDnsZones/virtualNetworkLinks"]

ABBR = {"Microsoft.Network/virtualNetworks": "vnet", "Microsoft.Network/networkInterfaces": "nic",
        "Microsoft.ManagedIdentity/userAssignedIdentities": "id", "Microsoft.Network/networkSecurityGroups": "nsg",
        "Microsoft.Compute/disks": "disk", "Microsoft.Network/publicIPAddresses": "pip",
        "Microsoft.KeyVault/vaults": "kv", "Microsoft.Compute/virtualMachines": "vm",
        "Microsoft.Network/privateEndpoints": "pe", "Microsoft.Insights/dataCollectionRules": "dcr",
        "Microsoft.App/containerApps": "ca", "Microsoft.OperationalInsights/workspaces": "log",
        "Microsoft.Network/bastionHosts": "bas", "microsoft.alertsmanagement/smartDetectorAlertRules": "Failure Anomalies",
        "Microsoft.Compute/virtualMachineScaleSets": "vmss", "Microsoft.ContainerService/managedClusters": "aks",
        "Microsoft.CognitiveServices/accounts": "oai", "Microsoft.Insights/components": "appi",
        "Microsoft.EventHub/namespaces": "evhns", "Microsoft.Compute/snapshots": "snap",
        "Microsoft.Insights/metricalerts": "alert", "Microsoft.Insights/actiongroups": "ag",
        "Microsoft.Web/sites": "app", "Microsoft.Web/serverfarms": "asp", "Microsoft.Sql/servers": "sql",
        "Microsoft.Network/loadBalancers": "lbi", "Microsoft.Network/applicationGateways": "agw",
        "Microsoft.Network/routeTables": "rt", "Microsoft.Network/natGateways": "ng",
        "Microsoft.Network/virtualNetworkGateways": "vgw", "Microsoft.Network/connections": "con",
        "Microsoft.Network/localNetworkGateways": "lgw", "Microsoft.Network/azureFirewalls": "afw",
        "Microsoft.Network/firewallPolicies": "afwp", "Microsoft.ServiceBus/namespaces": "sbns",
        "Microsoft.Logic/workflows": "logic", "Microsoft.DataFactory/factories": "adf",
        "Microsoft.Databricks/workspaces": "dbw", "Microsoft.Synapse/workspaces": "synw",
        "Microsoft.MachineLearningServices/workspaces": "mlw", "Microsoft.Search/searchServices": "srch",
        "Microsoft.ApiManagement/service": "apim", "Microsoft.Devices/IotHubs": "iot",
        "Microsoft.RecoveryServices/vaults": "rsv", "Microsoft.App/managedEnvironments": "cae",
        "Microsoft.Automation/automationAccounts": "aa", "Microsoft.Cache/redis": "redis",
        "Microsoft.DocumentDB/databaseAccounts": "cosmos", "Microsoft.DBforPostgreSQL/flexibleServers": "psql",
        "Microsoft.DBforMySQL/flexibleServers": "mysql", "Microsoft.Compute/availabilitySets": "avail",
        "Microsoft.ContainerInstance/containerGroups": "ci", "Microsoft.Web/staticSites": "stapp",
        "Microsoft.Insights/scheduledqueryrules": "sqr", "Microsoft.Insights/activityLogAlerts": "ala",
        "Microsoft.Insights/dataCollectionEndpoints": "dce", "Microsoft.Network/privateLinkServices": "pl"}
SHORT = {"westeurope": "weu", "eastus": "eus", "northeurope": "neu", "eastus2": "eus2", "westus2": "wus2",
         "uksouth": "uks", "germanywestcentral": "gwc", "swedencentral": "sdc", "centralus": "cus",
         "switzerlandnorth": "chn", "francecentral": "frc", "southeastasia": "sea", "japaneast": "jpe",
         "australiaeast": "aue", "westus3": "wus3", "canadacentral": "cac", "southcentralus": "scus",
         "centralindia": "inc", "brazilsouth": "brs", "northcentralus": "ncus"}
WORKLOADS = ["hub", "app01", "web", "api", "data", "payments", "crm", "erp", "identity", "mon",
             "shared", "analytics", "ml", "iot", "portal", "batch", "sap", "hr", "billing", "search"]
ENVS = ["prod", "prod", "prod", "dev", "test", "stg", "qa", "sbx"]
SUB_NAMES = ["Connectivity", "Identity", "Management", "Prod - Apps", "Prod - Data", "Prod - SAP",
             "NonProd - Apps", "NonProd - Data", "Dev/Test", "Sandbox", "Security", "Shared Services"]
TENANT_NAMES = [("Contoso Ltd", "contoso"), ("Fabrikam Inc", "fabrikam"), ("Northwind Traders", "northwind"),
                ("Tailspin Toys", "tailspin"), ("Woodgrove Bank", "woodgrove"), ("Adatum Corp", "adatum")]
BASE_TAGS = [("env", v) for v in ["prod", "dev", "test", "staging", "sandbox"]] + \
    [("owner", v) for v in ["team-net", "team-data", "team-app", "platform", "secops", "sre"]] + \
    [("costCenter", f"CC-{v}") for v in [1042, 1043, 2001, 2107, 3300, 4410]] + \
    [("app", v) for v in ["crm", "erp", "payments", "portal", "analytics", "sap"]] + \
    [("department", v) for v in ["Finance", "IT", "Recherche & Développement", "Ventes"]] + \
    [("site", v) for v in ["Zürich", "東京", "São Paulo", "München"]] + \
    [("criticality", v) for v in ["high", "medium", "low"]] + \
    [("dataClassification", v) for v in ["confidential", "internal", "public"]] + \
    [("managedBy", v) for v in ["terraform", "bicep", "portal"]]
assert len(BASE_TAGS) == 40

# Descriptions with the CSV edge cases the reader must survive (assigned to the first few).
SPECIAL_DESCRIPTIONS = [
    ("Microsoft.Network/virtualNetworks",
     'Hub network for "shared" services; peered with spokes, routed through the firewall.'),
    ("Microsoft.Storage/storageAccounts", "Storage for the Zürich and 東京 branch offices, replicated nightly."),
    ("Microsoft.Compute/virtualMachines", "Jump host; tab\tseparated notes from the migration team"),
    ("Microsoft.Compute/virtualMachines", "Windows file server. Backup path C:\\Backups\\"),
    ("Microsoft.KeyVault/vaults", "  Leading spaces kept, and a trailing one "),
]
DESCRIPTION_TEMPLATES = [
    "{kind} for the {wl} workload in {env}, deployed in {region}.",
    "Provides {kind} capacity for {wl}; owned by the platform team.",
    "{kind} supporting the {wl} {env} environment.",
    "Shared {kind} used by several {wl} components, managed with infrastructure as code.",
]

# ---------------------------------------------------------------- CSV

def quote(v):
    """One CSV field: None = absent (empty, unquoted); lists join with ';'; quote when needed."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        assert v and all(e and ";" not in e for e in v), v
        v = ";".join(v)
    s = str(v)
    assert s != "", "the seed never holds empty strings"
    assert "\r" not in s and "\n" not in s, s
    if any(c in s for c in ',";') or s[0] in " \t" or s[-1] in " \t":
        return '"' + s.replace('"', '""') + '"'
    return s

def jdump(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)

# ---------------------------------------------------------------- the model

def build(K):
    regions = []
    for i in range(20 * K):
        code, disp = REGIONS[i % len(REGIONS)]
        cyc = i // len(REGIONS)
        regions.append((code, disp) if cyc == 0 else (f"{code}-x{cyc}", f"{disp} X{cyc}"))
    region_codes = [c for c, _ in regions]
    tenants, subs, rgs = [], [], []
    for t in range(K):
        name, dom = TENANT_NAMES[t] if t < len(TENANT_NAMES) else (f"Tenant {t + 1}", f"tenant{t + 1}")
        tenants.append({"id": guid("tenant", t), "name": name, "domain": f"{dom}.onmicrosoft.com",
                        "abstraction_seed": hashlib.sha256(f"seed|{t}".encode()).hexdigest(),
                        "seed_algorithm": "sha256", "updated_at": dt("tenant", t),
                        "scans": [f"scan-202511{8 + j:02d}T0{3 + j}1500-{hexd(8, 'scan', t, j)}" for j in range(3)],
                        "short": dom})
        for j in range(12):
            subs.append({"id": guid("sub", t, j), "name": f"{name.split()[0]} {SUB_NAMES[j]}",
                         "tenant_id": tenants[t]["id"], "state": "Disabled" if (t, j) == (0, 9) else "Enabled",
                         "updated_at": dt("sub", t, j), "tenant": tenants[t]})
    per_sub = spread(960 * K, [s["id"] for s in subs], 30, 160, "rgs-per-sub")
    used = set()
    for s in subs:
        for j in range(per_sub[s["id"]]):
            wl, env = pick(WORKLOADS, "rgwl", s["id"], j), pick(ENVS, "rgenv", s["id"], j)
            loc = pick_skewed(region_codes, "rgloc", s["id"], j)
            n = 1
            while (s["id"], f"rg-{wl}-{env}-{SHORT.get(loc, loc)}-{n:02d}") in used:
                n += 1
            name = f"rg-{wl}-{env}-{SHORT.get(loc, loc)}-{n:02d}"
            used.add((s["id"], name))
            desc = None
            if pct("rgdesc", s["id"], name) < 80:
                desc = f"Resource group for the {wl} workload ({env}) in {loc}."
            rgs.append({"id": f"/subscriptions/{s['id']}/resourceGroups/{name}", "name": name,
                        "subscription_id": s["id"], "type": "ResourceGroup", "location": loc,
                        "llm_description": desc, "updated_at": dt("rg", s["id"], name),
                        "sub": s, "wl": wl, "env": env})
    rgs[0]["llm_description"] = "Ressourcengruppe für Zürich; Betrieb durch das Netzwerkteam, 24/7."
    tags = [(k, v) for k, v in BASE_TAGS]
    extra_keys = ["project", "costCenter", "app", "owner"]
    for i in range(40 * (K - 1)):
        k = extra_keys[i % 4]
        tags.append((k, {"project": f"proj-{i:04d}", "costCenter": f"CC-{5000 + i}",
                         "app": f"app-{i:04d}", "owner": f"team-{i:04d}"}[k]))

    # ---- per-type counts (scale-1 shape, times K)
    tail1 = spread(LONG_TAIL_REAL, TAIL_TYPES, 1, 12, "tail-real")
    extra_types = [t for t in TAIL_TYPES if not (t in NESTED and NESTED[t][2])]
    extra1 = spread(EXTRA_ORIGINALS, extra_types, 0, 8, "tail-extra")
    real_count = {t: c * K for t, c in TOP_TYPES}
    real_count.update({t: c * K for t, c in tail1.items()})
    extra_count = {t: extra1.get(t, 0) * K for t in [x for x, _ in TOP_TYPES] + TAIL_TYPES}
    all_types = [t for t, _ in TOP_TYPES] + TAIL_TYPES

    res = []  # originals
    by_type = {t: [] for t in all_types}
    for t in all_types:
        for i in range(real_count[t] + extra_count[t]):
            r = {"type": t, "real": i < real_count[t], "key": f"{t}#{i}", "i": i, "children": {}}
            res.append(r)
            by_type[t].append(r)

    # ---- placement: roots, then nested children, then owned children
    arm_ids, names_in = set(), {}
    counters = {}

    def short_region(code):
        return SHORT.get(code, code)

    def make_name(r, base):
        n = counters.get(base, 0) + 1
        counters[base] = n
        return f"{base}-{n:02d}"

    def root_name(r):
        t, wl, env, loc = r["type"], r["wl"], r["env"], short_region(r["location_hint"])
        owner = r.get("owner")
        if t == "Microsoft.Network/networkInterfaces" and owner:
            return make_name(r, f"{owner['name']}-nic" if owner["type"].endswith("privateEndpoints")
                             else f"nic-{owner['name'].replace('vm-', '')}")
        if t == "Microsoft.Compute/disks" and owner:
            return (f"{owner['name']}_OsDisk_1_{hexd(32, 'osdisk', r['key'])}" if r.get("os_disk")
                    else make_name(r, f"{owner['name']}-datadisk"))
        a = ABBR.get(t, t.split("/")[-1][:6].lower())
        if t == "Microsoft.Storage/storageAccounts":
            return f"st{wl.replace('0', '')[:8]}{env[:3]}{hexd(6, 'st', r['key'])}"[:24]
        if t == "Microsoft.KeyVault/vaults":
            return f"kv-{wl}-{env}-{hexd(2, 'kv', r['key'])}"
        if t == "Microsoft.ContainerRegistry/registries":
            return f"acr{wl.replace('0', '')}{env}{hexd(4, 'acr', r['key'])}"
        if t == "Microsoft.Network/privateDnsZones":
            zones = ["privatelink.blob.core.windows.net", "privatelink.vaultcore.azure.net",
                     "privatelink.database.windows.net", "privatelink.azurecr.io", "privatelink.file.core.windows.net",
                     "privatelink.servicebus.windows.net", "privatelink.azurewebsites.net",
                     "privatelink.documents.azure.com", "privatelink.openai.azure.com",
                     "privatelink.monitor.azure.com", "privatelink.oms.opinsights.azure.com",
                     "privatelink.agentsvc.azure-automation.net", "privatelink.queue.core.windows.net",
                     "privatelink.table.core.windows.net", "privatelink.redis.cache.windows.net",
                     "privatelink.westeurope.azmk8s.io", "privatelink.postgres.database.azure.com",
                     "privatelink.cognitiveservices.azure.com", "privatelink.dfs.core.windows.net",
                     "privatelink.search.windows.net"]
            z = zones[r["i"] % len(zones)]
            return z if r["i"] < len(zones) else f"{wl}{r['i']}.{z}"
        if t == "Microsoft.Network/dnsZones":
            return f"{wl}{r['i']}.contoso.com"
        if t == "microsoft.alertsmanagement/smartDetectorAlertRules":
            return make_name(r, f"Failure Anomalies - {r['owner']['name']}" if r.get("owner")
                             else f"Failure Anomalies - appi-{wl}-{env}")
        if t == "Microsoft.Network/networkWatchers":
            return make_name(r, f"NetworkWatcher_{loc}")
        if t == "Microsoft.Compute/virtualMachines":
            return make_name(r, f"vm-{wl}-{env}")
        return make_name(r, f"{a}-{wl}-{env}-{loc}")

    CHILD_NAMES = {
        "subnets": ["snet-app", "snet-data", "snet-web", "snet-pe", "snet-mgmt", "snet-aks",
                    "AzureBastionSubnet", "GatewaySubnet", "AzureFirewallSubnet", "snet-integration"],
        "extensions": ["AzureMonitorLinuxAgent", "MDE.Linux", "AADSSHLoginForLinux", "CustomScript",
                       "DependencyAgentLinux", "AzurePolicyforLinux", "AzureMonitorWindowsAgent"],
        "runCommands": ["rc-patch", "rc-inventory", "rc-hardening"],
        "runbooks": ["Start-AzureVMs", "Stop-AzureVMs", "Rotate-Secrets", "Cleanup-Snapshots"],
        "databases": ["sqldb-app", "sqldb-reporting", "sqldb-audit", "sqldb-stage"],
        "elasticPools": ["pool-std", "pool-prem"],
        "flowLogs": ["fl-nsg"],
        "virtualNetworkLinks": ["link"],
    }

    def place_root(r, rg=None, loc=None):
        rg = rg or pick(rgs, "rg", r["key"])
        r["rg"], r["sub"] = rg, rg["sub"]
        r["wl"], r["env"] = rg["wl"], rg["env"]
        if loc is None:
            loc = rg["location"] if pct("sameloc", r["key"]) < 75 else pick_skewed(region_codes, "loc", r["key"])
        r["location"] = r["location_hint"] = loc
        r["name"] = root_name(r)
        r["arm"] = (f"/subscriptions/{rg['sub']['id']}/resourceGroups/{rg['name']}/providers/"
                    f"{r['type']}/{r['name']}")

    def place_child(r, parent, seg):
        r["parent"] = parent
        r["rg"], r["sub"], r["wl"], r["env"] = parent["rg"], parent["sub"], parent["wl"], parent["env"]
        r["location"] = parent["location"]
        lst = parent["children"].setdefault(seg, [])
        if NESTED[r["type"]][2]:
            name = "default"
        else:
            opts = CHILD_NAMES[seg]
            base = pick(opts, "child", r["key"])
            if seg == "virtualNetworkLinks":
                base = f"link-{r['key'].split('#')[1]}"
            name, n = base, 1
            while name in [c["name"] for c in lst]:
                n += 1
                name = f"{base}-{n}"
        r["name"] = name
        lst.append(r)
        r["arm"] = f"{parent['arm']}/{seg}/{name}"

    edges = []  # (priority, start original, end original)
    roots = [t for t in all_types if t not in NESTED and t not in OWNED
             and t not in ("Microsoft.Network/networkInterfaces", "Microsoft.Compute/disks")]
    for t in roots:
        for r in by_type[t]:
            place_root(r)
    for t in NESTED:  # parents are roots
        ptype, seg, single = NESTED[t]
        for r in by_type[t]:
            cands = by_type[ptype]
            for attempt in range(10000):
                p = pick(cands, "parent", r["key"], attempt)
                n_have = len(p["children"].get(seg, []))
                if (single and n_have == 0) or (not single and n_have < 16):
                    break
            else:
                raise AssertionError(f"no parent for {r['key']}")
            place_child(r, p, seg)
            edges.append((0 if seg == "subnets" else 1, p, r))
    # owned: containerApps, sites, solutions, vmss (some), public IPs (some)
    for t, owner_types in OWNED.items():
        owners = [o for ot in owner_types for o in by_type[ot]]
        kids = by_type[t]
        for j, r in enumerate(kids):
            if t == "Microsoft.Compute/virtualMachineScaleSets":
                owner = owners[j] if j < len(owners) * 3 // 4 else None
            elif t == "Microsoft.Network/publicIPAddresses":
                owner = owners[j] if j < len(owners) else None
            else:
                owner = pick(owners, "owner", r["key"]) if owners else None
            if owner is None:
                place_root(r)
            else:
                r["owner"] = owner
                place_root(r, owner["rg"], owner["location"])
                edges.append((OWNED_PRIORITY.get(t, 2), owner, r))
    # NICs (private endpoint NICs first, then one per VM, then extra VM NICs) and disks
    vms, pes, nics = (by_type["Microsoft.Compute/virtualMachines"], by_type["Microsoft.Network/privateEndpoints"],
                      by_type["Microsoft.Network/networkInterfaces"])
    n_pe_nic = min(len(pes), len(nics) // 2)
    for j, r in enumerate(nics):
        owner = pes[j] if j < n_pe_nic else (vms[j - n_pe_nic] if j - n_pe_nic < len(vms)
                                             else pick(vms, "nicvm", r["key"]))
        r["owner"] = owner
        place_root(r, owner["rg"], owner["location"])
        owner.setdefault("nics", []).append(r)
        edges.append((2, owner, r))
    for j, r in enumerate(by_type["Microsoft.Compute/disks"]):
        vm = vms[j] if j < len(vms) else pick(vms, "diskvm", r["key"])
        r["vm"] = r["owner"] = vm
        r["os_disk"] = j < len(vms)
        place_root(r, vm["rg"], vm["location"])
        vm.setdefault("disks", []).append(r)
        edges.append((2, vm, r))
    # subnet placement (subnet CONTAINS nic / pe / bastion / ...), same subscription when possible
    subnets = by_type["Microsoft.Network/subnets"]
    sn_by_sub = {}
    for sn in subnets:
        sn_by_sub.setdefault(sn["sub"]["id"], []).append(sn)
    for t in IN_SUBNET:
        for r in by_type[t]:
            if t == "Microsoft.Network/networkInterfaces" and r["owner"]["type"] != "Microsoft.Compute/virtualMachines":
                continue  # a PE's NIC sits in the PE's subnet; the PE edge covers it
            cands = sn_by_sub.get(r["sub"]["id"]) or subnets
            r["subnet"] = pick(cands, "subnet", r["key"])
            edges.append((3, r["subnet"], r))
            if t == "Microsoft.Network/privateEndpoints":
                for nic in r.get("nics", []):
                    nic["subnet"] = r["subnet"]
            # the VNet holds it too (transitive containment, lowest priority filler)
            edges.append((4, r["subnet"]["parent"], r))

    for r in res:
        assert r["arm"] not in arm_ids, r["arm"]
        arm_ids.add(r["arm"])
    return dict(regions=regions, tenants=tenants, subs=subs, rgs=rgs, tags=tags, res=res,
                by_type=by_type, edges=edges, all_types=all_types, real_count=real_count)

# ---------------------------------------------------------------- resource attributes

def kind_words(rtype):
    seg = rtype.split("/")[-1]
    words, cur = [], ""
    for c in seg:
        if c.isupper() and cur and not cur[-1].isupper():
            words.append(cur)
            cur = ""
        cur += c
    words.append(cur)
    s = " ".join(w.lower() if not w.isupper() else w for w in words)
    return s[:-1] if s.endswith("s") and not s.endswith("ss") else s

def vnet_prefix(i):
    return f"10.{(i // 16) % 256}.{(i % 16) * 16}"

def properties_of(r, tenant_id):
    t, k = r["type"], r["key"]
    ok = {"provisioningState": "Succeeded"}
    if t == "Microsoft.Network/virtualNetworks":
        return {"addressSpace": {"addressPrefixes": [f"{vnet_prefix(r['i'])}.0/20"]},
                "subnets": [{"name": c["name"]} for c in r["children"].get("subnets", [])],
                "enableDdosProtection": False, **ok}
    if t == "Microsoft.Network/subnets":
        return {"addressPrefix": r["cidr"], "privateEndpointNetworkPolicies": "Disabled", **ok}
    if t == "Microsoft.Network/networkInterfaces":
        cfg = {"name": "ipconfig1", "privateIPAllocationMethod": "Dynamic"}
        if r.get("subnet"):
            cfg["privateIPAddress"] = r["subnet"]["cidr"].rsplit(".", 1)[0] + f".{4 + h('ip', k) % 200}"
            cfg["subnet"] = {"id": r["subnet"]["arm"]}
        return {"ipConfigurations": [cfg], "enableAcceleratedNetworking": pct("accel", k) < 60, **ok}
    if t == "Microsoft.Network/networkSecurityGroups":
        rules = [{"name": "AllowHttpsInbound", "priority": 100, "direction": "Inbound", "access": "Allow",
                  "protocol": "Tcp", "sourceAddressPrefix": "*", "destinationPortRange": "443"}]
        if pct("nsg", k) < 50:
            rules.append({"name": "AllowBastionSsh", "priority": 110, "direction": "Inbound", "access": "Allow",
                          "protocol": "Tcp", "sourceAddressPrefix": "10.0.1.0/26", "destinationPortRange": "22"})
        rules.append({"name": "DenyAllInbound", "priority": 4096, "direction": "Inbound", "access": "Deny",
                      "protocol": "*", "sourceAddressPrefix": "*", "destinationPortRange": "*"})
        return {"securityRules": rules, **ok}
    if t == "Microsoft.Compute/virtualMachines":
        linux = pct("os", k) < 70
        out = {"hardwareProfile": {"vmSize": pick(["Standard_D2s_v5", "Standard_D4s_v5", "Standard_B2ms",
                                                   "Standard_E8s_v5", "Standard_F4s_v2"], "size", k)},
               "storageProfile": {"osDisk": {"osType": "Linux" if linux else "Windows", "createOption": "FromImage",
                                             "managedDisk": {"storageAccountType": "Premium_LRS"}},
                                  "imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                                                     "sku": "22_04-lts-gen2"} if linux else
                                  {"publisher": "MicrosoftWindowsServer", "offer": "WindowsServer",
                                   "sku": "2022-datacenter-azure-edition"}},
               "osProfile": {"computerName": r["name"].replace("vm-", "")[:15], "adminUsername": "azureuser"},
               "networkProfile": {"networkInterfaces": [{"id": n["arm"]} for n in r.get("nics", [])]}, **ok}
        return out
    if t == "Microsoft.Compute/disks":
        return {"diskSizeGB": pick([32, 64, 128, 256, 512, 1024], "size", k),
                "sku": {"name": pick(["Premium_LRS", "StandardSSD_LRS", "Standard_LRS"], "sku", k)},
                "diskState": "Attached", "osType": "Linux" if r.get("os_disk") else None, **ok} \
            if r.get("os_disk") else {"diskSizeGB": pick([128, 256, 512, 1024], "size", k),
                                      "sku": {"name": "Premium_LRS"}, "diskState": "Attached", **ok}
    if t == "Microsoft.Storage/storageAccounts":
        return {"sku": {"name": pick(["Standard_LRS", "Standard_GRS", "Standard_ZRS"], "sku", k)},
                "kind": "StorageV2", "accessTier": "Hot", "supportsHttpsTrafficOnly": True,
                "minimumTlsVersion": "TLS1_2",
                "primaryEndpoints": {"blob": f"https://{r['name']}.blob.core.windows.net/"}, **ok}
    if t == "Microsoft.Network/publicIPAddresses":
        return {"publicIPAllocationMethod": "Static", "publicIPAddressVersion": "IPv4",
                "ipAddress": f"20.{h('a', k) % 256}.{h('b', k) % 256}.{h('c', k) % 254 + 1}",
                "sku": {"name": "Standard"}, **ok}
    if t == "Microsoft.KeyVault/vaults":
        return {"sku": {"family": "A", "name": "standard"}, "tenantId": tenant_id, "enableSoftDelete": True,
                "enableRbacAuthorization": True, "vaultUri": f"https://{r['name']}.vault.azure.net/", **ok}
    if t == "Microsoft.ManagedIdentity/userAssignedIdentities":
        return {"principalId": guid("principal", k), "clientId": guid("client", k), "tenantId": tenant_id}
    if t == "Microsoft.Network/privateEndpoints":
        return {"privateLinkServiceConnections": [{"name": r["name"], "groupIds": [pick(
                    ["blob", "vault", "sqlServer", "registry", "file"], "grp", k)]}],
                "subnet": {"id": r["subnet"]["arm"]}, **ok}
    if t == "Microsoft.ContainerService/managedClusters":
        return {"kubernetesVersion": pick(["1.29.7", "1.30.3", "1.28.9"], "kv", k), "dnsPrefix": r["name"],
                "agentPoolProfiles": [{"name": "system", "count": 3, "vmSize": "Standard_D4s_v5"}], **ok}
    if t == "Microsoft.OperationalInsights/workspaces":
        return {"sku": {"name": "PerGB2018"}, "retentionInDays": pick([30, 90, 365], "ret", k),
                "customerId": guid("law", k), **ok}
    if t == "Microsoft.Compute/virtualMachines/extensions":
        return {"publisher": "Microsoft.Azure.Monitor", "type": r["name"].split("-")[0],
                "typeHandlerVersion": "1.0", "autoUpgradeMinorVersion": True, **ok}
    return ok

def assign_attributes(m):
    """Tags, descriptions, scan/tenant ids, zones, datetimes, properties (shared by both layers)."""
    tags = m["tags"]
    res = m["res"]
    # subnet CIDRs inside their VNet's /20
    for v in m["by_type"]["Microsoft.Network/virtualNetworks"]:
        for j, sn in enumerate(v["children"].get("subnets", [])):
            a, b = vnet_prefix(v["i"]).rsplit(".", 1)
            sn["cidr"] = f"{a}.{int(b) + j}.0/24"
    # exactly 72 per scale unit without a region: the most canonically global types first
    rank = {t: n for n, t in enumerate(GLOBAL_TYPES)}
    cands = sorted((r for r in res if r["type"] in rank), key=lambda r: (rank[r["type"]], hexd(16, "g", r["key"])))
    need = 72 * m["K"]
    assert len(cands) >= need
    for r in cands[:need]:
        r["location"] = None if pct("noloc", r["key"]) < 12 else "global"
    specials = list(SPECIAL_DESCRIPTIONS)
    for r in sorted(res, key=lambda r: hexd(16, "order", r["key"])):
        k, ten = r["key"], r["sub"]["tenant"]
        r["updated_at"] = dt("upd", k)
        r["scan_id"] = pick(ten["scans"], "scan", k) if pct("scanid", k) < 70 else None
        r["tenant_id"] = ten["id"] if pct("tenantid", k) < 10 else None
        if pct("tags", k) < 75:
            d = {}
            for a in range(12):
                key, val = pick(tags, "tag", k, a)
                if key == "env":
                    val = {"prod": "prod", "dev": "dev", "test": "test", "qa": "test", "stg": "staging",
                           "sbx": "sandbox"}[r["env"]]
                if key not in d:
                    d[key] = val
                if len(d) >= 1 + h("ntags", k) % 4:
                    break
            r["tags"] = d
        else:
            r["tags"] = None
        r["desc"] = None
        if pct("desc", k) < 60:
            sp = [x for x in specials if x[0] == r["type"]]
            if sp and r["real"]:
                specials.remove(sp[0])
                r["desc"] = sp[0][1]
            else:
                r["desc"] = pick(DESCRIPTION_TEMPLATES, "dt", k).format(
                    kind=kind_words(r["type"]).capitalize(), wl=r["wl"], env=r["env"],
                    region=r["location"] or "global")
        r["zones"] = None
        if r["type"] == "Microsoft.Compute/virtualMachines" and pct("zone", k) < 40:
            r["zones"] = [str(1 + h("z", k) % 3)]
        if r["type"] == "Microsoft.Network/publicIPAddresses" and pct("zone", k) < 50:
            r["zones"] = ["1", "2", "3"]
    for d in m["by_type"]["Microsoft.Compute/disks"]:
        d["zones"] = d["vm"]["zones"]
    assert not specials, "special descriptions not all placed"
    for r in res:
        r["properties"] = jdump({k: v for k, v in properties_of(r, r["sub"]["tenant"]["id"]).items() if v is not None})
        r["addressSpace"] = (jdump({"addressPrefixes": [f"{vnet_prefix(r['i'])}.0/20"]})
                             if r["type"] == "Microsoft.Network/virtualNetworks" else None)
        r["prefix"] = prefix_of(r["type"])
        if r["real"]:
            seed = r["sub"]["tenant"]["abstraction_seed"]
            r["abs_id"] = f"{r['prefix']}-{hashlib.sha256((r['arm'] + seed).encode()).hexdigest()[:16]}"

# ---------------------------------------------------------------- groups

ABS_COLS = ("id:ID(Resource),name:string,type:string,location:string,tags:string,properties:string,"
            "subscription_id:string,resource_group:string,original_id:string,original_name:string,"
            "abstraction_type:string,updated_at:datetime,llm_description:string,processing_status:string,"
            "scan_id:string,tenant_id:string,addressSpace:string,zones:string[],layer_id:string,layer_type:string,"
            "layer_created_at:datetime,layer_description:string,synthetic:boolean,scale_operation_id:string,"
            "generation_strategy:string,generation_timestamp:string,template_source_id:string")
ORIG_COLS = ("id:ID(Resource),name:string,type:string,location:string,tags:string,properties:string,"
             "subscription_id:string,resource_group:string,updated_at:datetime,llm_description:string,"
             "processing_status:string,scan_id:string,tenant_id:string,addressSpace:string,zones:string[],"
             "layer_id:string,layer_type:string,layer_created_at:datetime")
NODE_GROUPS = [  # name, labels, id space, header
    ("tenant", ["Tenant"], "Tenant",
     "id:ID(Tenant),name:string,domain:string,abstraction_seed:string,seed_algorithm:string,updated_at:datetime"),
    ("subscription", ["Subscription"], "Subscription",
     "id:ID(Subscription),name:string,tenant_id:string,state:string,updated_at:datetime"),
    ("resourcegroup", ["ResourceGroup"], "ResourceGroup",
     "id:ID(ResourceGroup),name:string,subscription_id:string,type:string,location:string,"
     "llm_description:string,updated_at:datetime"),
    ("region", ["Region"], "Region", "id:ID(Region),code:string,name:string,display_name:string"),
    ("tag", ["Tag"], "Tag", "id:ID(Tag),key:string,value:string"),
    ("resource", ["Resource"], "Resource", ABS_COLS),
    ("resource.original", ["Resource", "Original"], "Resource", ORIG_COLS),
]
REL_GROUPS = [  # name, type, start space, end space, extra header columns
    ("contains.subscription.resourcegroup", "CONTAINS", "Subscription", "ResourceGroup", ""),
    ("contains.resourcegroup.resource", "CONTAINS", "ResourceGroup", "Resource", ""),
    ("contains.resource.resource", "CONTAINS", "Resource", "Resource", ""),
    ("located_in.resource.region", "LOCATED_IN", "Resource", "Region", ""),
    ("scan_source_node.resource.resource", "SCAN_SOURCE_NODE", "Resource", "Resource",
     ",created_at:datetime,scan_id:string,tenant_id:string,confidence:string"),
    ("tagged_with.resource.tag", "TAGGED_WITH", "Resource", "Tag", ""),
]
EXPECTED_NODES = {"tenant": 1, "subscription": 12, "resourcegroup": 960, "region": 20, "tag": 40,
                  "resource": 4092, "resource.original": 2216}
EXPECTED_RELS = {"contains.subscription.resourcegroup": 960, "contains.resourcegroup.resource": 2216,
                 "contains.resource.resource": 1255, "located_in.resource.region": 2144,
                 "scan_source_node.resource.resource": 202, "tagged_with.resource.tag": 48}

def col_names(header):
    return [c.split(":")[0] for c in header.split(",")]

def rows_for(m):
    K = m["K"]
    res = m["res"]
    real = [r for r in res if r["real"]]
    nodes, rels = {}, {}
    nodes["tenant"] = [dict(t) for t in m["tenants"]]
    nodes["subscription"] = [dict(s) for s in m["subs"]]
    nodes["resourcegroup"] = [dict(g) for g in m["rgs"]]
    nodes["region"] = [{"id": c, "code": c, "name": c, "display_name": d} for c, d in m["regions"]]
    nodes["tag"] = [{"id": f"{k}:{v}", "key": k, "value": v} for k, v in m["tags"]]
    layer = {"layer_id": "default", "layer_type": "baseline", "layer_created_at": LAYER_CREATED_AT}
    originals, abstracted = [], []
    for r in res:
        base = {"type": r["type"], "location": r["location"],
                "tags": jdump(r["tags"]) if r["tags"] else None, "properties": r["properties"],
                "subscription_id": r["sub"]["id"], "resource_group": r["rg"]["name"],
                "updated_at": r["updated_at"], "llm_description": r["desc"], "processing_status": "completed",
                "scan_id": r["scan_id"], "tenant_id": r["tenant_id"], "addressSpace": r["addressSpace"],
                "zones": r["zones"], **layer}
        originals.append({"id": r["arm"], "name": r["name"], **base})
        if r["real"]:
            abstracted.append({"id": r["abs_id"], "name": r["abs_id"], **base, "original_id": r["arm"],
                               "original_name": r["name"], "abstraction_type": r["prefix"],
                               "layer_description": "Baseline layer from scan"})
    taken = {r["abs_id"] for r in real} | {r["arm"] for r in res}
    copy_of = {}
    for r, a in zip(real, list(abstracted)):  # copy i from real base i, one copy each (earlier 2x run)
        for attempt in range(1000):
            cid = f"synthetic-{r['prefix']}-{hexd(8, 'synthetic', OP_ID, r['abs_id'], 0, attempt)}"
            if cid not in taken:
                break
        taken.add(cid)
        copy_of[r["abs_id"]] = cid
        abstracted.append({**a, "id": cid, "synthetic": True, "scale_operation_id": OP_ID,
                           "generation_strategy": "template", "generation_timestamp": OP_TS,
                           "template_source_id": r["abs_id"]})
    nodes["resource"], nodes["resource.original"] = abstracted, originals

    rels["contains.subscription.resourcegroup"] = [(g["subscription_id"], g["id"]) for g in m["rgs"]]
    rels["contains.resourcegroup.resource"] = [(r["rg"]["id"], r["arm"]) for r in res]
    # Resource->Resource CONTAINS: 47 real base->base VNet->subnet, their 47 copies, the rest among Originals
    chosen = sorted((r for r in m["by_type"]["Microsoft.Network/subnets"] if r["real"] and r["parent"]["real"]),
                    key=lambda r: hexd(16, "pick47", r["key"]))[:47 * K]
    assert len(chosen) == 47 * K and len({c["arm"] for c in chosen}) == 47 * K
    rr = [(c["parent"]["abs_id"], c["abs_id"]) for c in chosen]
    rr += [(copy_of[c["parent"]["abs_id"]], copy_of[c["abs_id"]]) for c in chosen]
    need = 1161 * K
    pool, seen = [], set()
    for prio, s, e in sorted(m["edges"], key=lambda x: (x[0], hexd(16, "edge", x[1]["key"], x[2]["key"]))):
        if (s["arm"], e["arm"]) not in seen and s is not e:
            seen.add((s["arm"], e["arm"]))
            pool.append((prio, s["arm"], e["arm"]))
    m["pool"] = {p: sum(1 for x in pool if x[0] == p) for p in range(5)}
    assert len(pool) >= need, (len(pool), need)
    assert sum(v for p, v in m["pool"].items() if p <= 2) <= need, m["pool"]  # all nesting/ownership kept
    orig_pairs = [(s, e) for _, s, e in pool[:need]]
    assert all((c["parent"]["arm"], c["arm"]) in set(orig_pairs) for c in chosen)
    rels["contains.resource.resource"] = rr + orig_pairs
    rels["located_in.resource.region"] = [(r["arm"], r["location"]) for r in res
                                          if r["location"] not in (None, "global")]
    scan = sorted(real, key=lambda r: hexd(16, "scanlink", r["key"]))[:202 * K]
    rels["scan_source_node.resource.resource"] = [
        (r["abs_id"], r["arm"], dt("scanlink", r["key"]), r["scan_id"] or r["sub"]["tenant"]["scans"][0],
         r["sub"]["tenant"]["id"], "exact") for r in scan]
    tw = []
    for r in sorted((r for r in res if r["tags"]), key=lambda r: hexd(16, "tagged", r["key"])):
        for k, v in r["tags"].items():
            if len(tw) < 48 * K:
                tw.append((r["arm"], f"{k}:{v}"))
    rels["tagged_with.resource.tag"] = tw
    return nodes, rels

# ---------------------------------------------------------------- writing

def write_dir(tmp, nodes, rels):
    (tmp / "headers").mkdir(parents=True)
    (tmp / "data").mkdir()
    manifest = {"format": "tenantgen/1", "kind": "baseline",
                "csv": {"delimiter": ",", "array_delimiter": ";", "quote": "\"", "multiline_fields": False},
                "node_groups": [], "relationship_groups": []}

    def emit(name, header, lines):
        (tmp / "headers" / f"{name}.csv").write_bytes((header + "\n").encode())
        body = "".join(line + "\n" for line in sorted(lines)).encode()
        path = f"data/{name}.part-0000.csv"
        (tmp / path).write_bytes(body)
        return {"header": f"headers/{name}.csv", "files": [{"path": path, "rows": len(lines), "bytes": len(body)}]}

    for name, labels, space, header in NODE_GROUPS:
        cols = col_names(header)
        lines = [",".join(quote(rec.get(c)) for c in cols) for rec in nodes[name]]
        g = emit(name, header, lines)
        manifest["node_groups"].append({"name": name, "labels": labels, "id_space": space, **g})
    for name, rtype, s, e, extra in REL_GROUPS:
        header = f":START_ID({s}),:END_ID({e}){extra}"
        lines = [",".join(quote(v) for v in row) for row in rels[name]]
        g = emit(name, header, lines)
        manifest["relationship_groups"].append({"name": name, "type": rtype, "start_space": s,
                                                "end_space": e, **g})
    (tmp / "manifest.json").write_bytes((json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode())
    return manifest

def verify(out, K, n_types_real):
    """Re-read the directory with the csv module and check everything the brief promises."""
    man = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    ids = {}  # id space -> set
    data = {}
    for g in man["node_groups"] + man["relationship_groups"]:
        header = (out / g["header"]).read_text(encoding="utf-8")
        assert header.endswith("\n") and header.count("\n") == 1, g["header"]
        cols = header.rstrip("\n").split(",")
        f = g["files"][0]
        raw = (out / f["path"]).read_bytes()
        assert len(raw) == f["bytes"] and b"\r" not in raw
        assert raw.count(b"\n") == f["rows"], f"{f['path']}: a raw newline inside a value?"
        with open(out / f["path"], newline="", encoding="utf-8") as fh:
            recs = list(csv.reader(fh))
        assert len(recs) == f["rows"], f["path"]
        assert all(len(x) == len(cols) for x in recs), f"width mismatch in {f['path']}"
        data[g["name"]] = (cols, recs)
        if "id_space" in g:
            s = ids.setdefault(g["id_space"], set())
            before = len(s)
            s.update(x[0] for x in recs)
            assert len(s) == before + len(recs), f"duplicate id in {g['name']}"
    for g in man["relationship_groups"]:
        recs = data[g["name"]][1]
        assert all(x[0] in ids[g["start_space"]] and x[1] in ids[g["end_space"]] for x in recs), g["name"]
        assert len({(x[0], x[1]) for x in recs}) == len(recs), f"parallel edges in {g['name']}"
        assert all(x[0] != x[1] for x in recs), f"self loop in {g['name']}"
    counts = {g["name"]: g["files"][0]["rows"] for g in man["node_groups"] + man["relationship_groups"]}
    for name, n in list(EXPECTED_NODES.items()) + list(EXPECTED_RELS.items()):
        assert counts[name] == n * K, f"{name}: {counts[name]} != {n * K}"
    assert sum(counts[n] for n in EXPECTED_NODES) == 7341 * K
    assert sum(counts[n] for n in EXPECTED_RELS) == 6825 * K
    # the abstracted layer
    cols, recs = data["resource"]
    c = {n: cols.index(next(x for x in cols if x.split(":")[0] == n)) for n in
         ("id", "type", "original_id", "synthetic", "template_source_id", "name")}
    orig_ids = {x[0] for x in data["resource.original"][1]}
    real = {x[0]: x for x in recs if x[c["synthetic"]] == ""}
    synth = {x[0]: x for x in recs if x[c["synthetic"]] == "true"}
    assert len(real) == 2046 * K and len(synth) == 2046 * K
    assert all(x[c["original_id"]] in orig_ids for x in real.values())
    assert all(x[c["template_source_id"]] in real and x[c["name"]] == real[x[c["template_source_id"]]][c["name"]]
               for x in synth.values())
    assert len({x[c["template_source_id"]] for x in synth.values()}) == 2046 * K
    per_type = {}
    for x in real.values():
        per_type[x[c["type"]]] = per_type.get(x[c["type"]], 0) + 1
    for t, n in TOP_TYPES:
        assert per_type[t] == n * K, (t, per_type.get(t))
    assert len(per_type) == n_types_real and len(per_type) >= 90
    rr = data["contains.resource.resource"][1]
    assert sum(1 for s, e in rr if s in real and e in real) == 47 * K
    assert sum(1 for s, e in rr if s in synth and e in synth) == 47 * K
    assert sum(1 for s, e in rr if s in orig_ids and e in orig_ids) == 1161 * K
    for s, e in rr:
        if s in real and e in real:
            assert real[s][c["type"]] == "Microsoft.Network/virtualNetworks"
            assert real[e][c["type"]] == "Microsoft.Network/subnets"
    assert len({e for s, e in rr if s in real and e in real}) == 47 * K
    scan = data["scan_source_node.resource.resource"][1]
    assert all(x[0] in real and real[x[0]][c["original_id"]] == x[1] and x[5] == "exact" for x in scan)
    lo = data["located_in.resource.region"][1]
    assert len({s for s, _ in lo}) == 2144 * K and all(s in orig_ids for s, _ in lo)
    return counts, per_type

README = """# seed-tenant

A deterministic stand-in for the real Azure tenant graph (as scanned by ATG, Azure Tenant Grapher) on which
the founding `atg scale-up template` run was measured: the "before" state of that run, in the tenantgen
directory format (`docs/format.md`). Built by `scripts/build-seed-tenant.py`; every value is derived from
sha256/blake2b of descriptive strings, so regenerating gives byte-identical files.

Regenerate (from the repo root; Python 3.11, standard library only):

    scripts/build-seed-tenant.py                      # writes test-data/seed-tenant
    scripts/build-seed-tenant.py --scale 3 --out DIR  # every count x3, same shape

## Counts

{table}

Abstracted `:Resource` = {real} real + {real} synthetic copies from an earlier 2x template run
(`scale_operation_id` `{op}`); {types} Azure types among the real ones (the 30 largest with the exact
counts of the seed run). Resource->Resource `CONTAINS`: {k47} real base->base (VNet->subnet), {k47} between
their copies, {korig} among Originals. {glob} Originals have location `global` or none, hence no `LOCATED_IN`.
Edge cases on purpose: values with `,` `;` `"`, unicode (Zürich, 東京), a tab, leading/trailing spaces, one
description ending in a backslash (shared by its twin and its copy); absent fields are empty, no field is
the empty string, no value holds CR or LF.
"""

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="Counts reproduce the seed run of the ATG scale-up reference (section 8).")
    ap.add_argument("--out", default=str(REPO / "test-data" / "seed-tenant"),
                    help="output directory (default: test-data/seed-tenant under the repo root); replaced")
    ap.add_argument("--scale", type=int, default=1, metavar="K", help="multiply every count by K (>= 1)")
    a = ap.parse_args()
    if a.scale < 1:
        ap.error("--scale must be an integer >= 1")
    K = a.scale
    out = Path(a.out).resolve()
    m = build(K)
    m["K"] = K
    assign_attributes(m)
    nodes, rels = rows_for(m)
    tmp = out.parent / f".{out.name}.tmp-build"
    if tmp.exists():
        shutil.rmtree(tmp)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_dir(tmp, nodes, rels)
    n_types = sum(1 for t in m["all_types"] if m["real_count"][t] > 0)
    counts, per_type = verify(tmp, K, n_types)
    table = "| group | rows |\n|---|---|\n" + "\n".join(f"| `{k}` | {v:,} |" for k, v in counts.items())
    table += (f"\n\nNodes {sum(counts[n] for n in EXPECTED_NODES):,}; relationships "
              f"{sum(counts[n] for n in EXPECTED_RELS):,} (CONTAINS {4431 * K:,}, LOCATED_IN {2144 * K:,}, "
              f"SCAN_SOURCE_NODE {202 * K:,}, TAGGED_WITH {48 * K:,}). Scale factor {K}.")
    (tmp / "README.md").write_text(README.format(table=table, real=f"{2046 * K:,}", op=OP_ID, types=n_types,
                                                 k47=47 * K, korig=f"{1161 * K:,}", glob=72 * K), encoding="utf-8")
    if out.exists():
        shutil.rmtree(out)
    os.rename(tmp, out)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote {out} (scale {K}, {total:,} bytes)")
    for k, v in counts.items():
        print(f"  {k:38s} {v:>8,}")
    print(f"  {'nodes':38s} {sum(counts[n] for n in EXPECTED_NODES):>8,}")
    print(f"  {'relationships':38s} {sum(counts[n] for n in EXPECTED_RELS):>8,}")
    print(f"  real resource types: {n_types}; CONTAINS pool by priority: {m['pool']}")
    print("all count and integrity checks passed")

if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"build-seed-tenant: check failed: {e}", file=sys.stderr)
        sys.exit(1)
