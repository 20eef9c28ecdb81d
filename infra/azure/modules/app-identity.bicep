// The application's user-assigned identity, federated with the release's Kubernetes ServiceAccount:
// pods labelled azure.workload.identity/use get its Entra ID tokens (Key Vault for the Dapr secret
// store, Azure OpenAI). The chart annotates the ServiceAccount with this identity's client id.

@description('Identity name.')
param name string

@description('Region.')
param location string

@description('Tags.')
param tags object

@description('OIDC issuer URL of the AKS cluster.')
param oidcIssuerUrl string

@description('Namespace of the release.')
param namespace string

@description('ServiceAccount of the release.')
param serviceAccount string

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

// one credential per identity: Entra ID refuses concurrent credential writes on one identity
resource serviceAccountCredential 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: 'kubernetes-${namespace}-${serviceAccount}'
  properties: {
    issuer: oidcIssuerUrl
    subject: 'system:serviceaccount:${namespace}:${serviceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

output id string = identity.id
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
