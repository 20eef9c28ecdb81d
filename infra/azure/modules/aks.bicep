// AKS for Todo Cloud: OIDC issuer + workload identity (the app's pods get Entra ID tokens through
// their ServiceAccount), the managed KEDA add-on (scales the event functions from Kafka lag), the
// application routing add-on (managed nginx, IngressClass webapprouting.kubernetes.azure.com),
// Azure CNI overlay with Cilium (enforces the chart's NetworkPolicies), the Dapr cluster extension,
// and AcrPull for the kubelet identity on the registry.

@description('Cluster name.')
param name string

@description('Region.')
param location string

@description('Tags.')
param tags object

@description('Kubernetes version; empty: the region\'s default.')
param kubernetesVersion string = ''

@description('VM size of the node pool.')
param nodeVmSize string

@description('Node pool autoscaler lower bound.')
param nodeMinCount int

@description('Node pool autoscaler upper bound.')
param nodeMaxCount int

@description('Registry the kubelet pulls from (same resource group).')
param acrName string

@description('Dapr control plane in HA mode.')
param daprHighAvailability bool = true

var acrPullRoleId = '7f951dda-4ed3-4680-a7ca-43fe172d538d'

resource cluster 'Microsoft.ContainerService/managedClusters@2024-05-01' = {
  name: name
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  sku: {
    name: 'Base'
    tier: 'Standard'
  }
  properties: {
    dnsPrefix: name
    kubernetesVersion: empty(kubernetesVersion) ? null : kubernetesVersion
    enableRBAC: true
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        osType: 'Linux'
        osSKU: 'AzureLinux'
        vmSize: nodeVmSize
        count: nodeMinCount
        enableAutoScaling: true
        minCount: nodeMinCount
        maxCount: nodeMaxCount
        type: 'VirtualMachineScaleSets'
        upgradeSettings: {
          maxSurge: '33%'
        }
      }
    ]
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
      loadBalancerSku: 'standard'
      outboundType: 'loadBalancer'
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    workloadAutoScalerProfile: {
      keda: {
        enabled: true
      }
    }
    ingressProfile: {
      webAppRouting: {
        enabled: true
      }
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
      nodeOSUpgradeChannel: 'NodeImage'
    }
  }
}

// Dapr control plane (operator, sidecar injector, sentry, placement, scheduler for the Jobs API)
resource dapr 'Microsoft.KubernetesConfiguration/extensions@2023-05-01' = {
  name: 'dapr'
  scope: cluster
  properties: {
    extensionType: 'Microsoft.Dapr'
    autoUpgradeMinorVersion: true
    releaseTrain: 'Stable'
    configurationSettings: {
      'global.ha.enabled': daprHighAvailability ? 'true' : 'false'
    }
    scope: {
      cluster: {
        releaseNamespace: 'dapr-system'
      }
    }
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: acrName
}

resource kubeletAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, cluster.id, acrPullRoleId)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleId)
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

output id string = cluster.id
output name string = cluster.name
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
output nodeResourceGroup string = cluster.properties.nodeResourceGroup
// the one public IP the pods leave through (standard load balancer outbound): Postgres allows it
output egressPublicIpId string = cluster.properties.networkProfile.loadBalancerProfile.effectiveOutboundIPs[0].id
